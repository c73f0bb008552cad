/** RFC 4180 CSV pieces shared by the operator exports (audit trail, destruction records). */

/**
 * Where a spreadsheet may begin a cell inside a field: at its start, and after `;` (the list
 * separator of Russian and other locales, which splits on it even inside our quotes when it
 * ignores them), `,`, a tab or a line break — there, after spaces or quotes, `= + - @` start a
 * formula. Each such place gets a `'`, so every cell any of those readers makes opens as text.
 */
const FORMULA_START = /(^|[;,\t\r\n])(?=[\p{Zs}"]*[=+\-@])/gu;

/**
 * One RFC 4180 field, always quoted (quotes doubled); formula-like text neutralised at every
 * place a cell may begin (`FORMULA_START`: `ok;=X()` is written `"ok;'=X()"`). Numbers are
 * quoted too: spreadsheets still read `"42"` as a number. Null is the empty field.
 */
export function csvField(value: string | number | null): string {
  const text =
    typeof value === "string" ? value.replace(FORMULA_START, "$1'") : String(value ?? "");
  return `"${text.replaceAll('"', '""')}"`;
}
