/**
 * Russian registration plates as plate-recognition systems store them: upper case, no spaces or
 * dashes, the 12 Cyrillic letters that plates use mapped to their Latin look-alikes.
 */
const CYRILLIC_TO_LATIN: Record<string, string> = {
  А: "A",
  В: "B",
  Е: "E",
  К: "K",
  М: "M",
  Н: "H",
  О: "O",
  Р: "P",
  С: "C",
  Т: "T",
  У: "Y",
  Х: "X",
};

const LETTER = "[ABEKMHOPCTYX]";
/** Private cars (А123ВС77 / А123ВС777) and taxis (АВ12377 / АВ123777); region 01–999. */
const PLATE = new RegExp(
  `^(?:${LETTER}(?!000)\\d{3}${LETTER}{2}|${LETTER}{2}(?!000)\\d{3})(?!00$)(?!000$)\\d{2,3}$`,
);

/** The normalized plate, or null when the input is not a plate. The input is never echoed. */
export function normalizePlate(input: string): string | null {
  if (input.length > 32) return null;
  const compact = input
    .normalize("NFC")
    .toUpperCase()
    .replace(/[\s\-–—.]/g, "")
    .replace(/[АВЕКМНОРСТУХ]/g, (letter) => CYRILLIC_TO_LATIN[letter] ?? letter);
  return PLATE.test(compact) ? compact : null;
}
