import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { envRows, retentionEnv } from "@propgate/config";
import { z } from "zod";

/**
 * docs/data-retention.md holds the retention table twice, in English and in Russian (the
 * operator's compliance officer reads Russian): both must name every retention setting with its
 * default, and agree with each other row for row, so neither can drift from the code.
 */
const DOC = readFileSync(join(import.meta.dir, "../../../docs/data-retention.md"), "utf8");

interface Row {
  cells: string[];
  setting: string;
  kept: string;
  where: string;
}

/** The table under `## <heading>`: its body rows, header and rule dropped. */
function tableUnder(heading: string): Row[] {
  const start = DOC.indexOf(`\n## ${heading}\n`);
  expect({ heading, found: start >= 0 }).toEqual({ heading, found: true });
  const next = DOC.indexOf("\n## ", start + 1);
  const section = DOC.slice(start, next < 0 ? undefined : next);
  const rows = section
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .slice(2)
    .map((line) =>
      line
        .split("|")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  return rows.map((cells) => ({
    cells,
    where: cells[1] ?? "",
    kept: cells[2] ?? "",
    setting: cells[3] ?? "",
  }));
}

/** Each retention setting and its default, as the configuration reference shows it. */
const DEFAULTS = new Map(
  envRows(z.object(retentionEnv)).map((row) => [`\`${row.variable}\``, row.default]),
);

describe("docs/data-retention.md", () => {
  const tables = { English: tableUnder("English"), Russian: tableUnder("Русский") };

  for (const [language, rows] of Object.entries(tables))
    test(`the ${language} table names every retention setting once, with its default`, () => {
      const named = rows.map((row) => row.setting).filter((setting) => setting !== "–");
      expect(named.sort()).toEqual([...DEFAULTS.keys()].sort());
      for (const row of rows) {
        if (row.setting === "–") continue;
        const shown = DEFAULTS.get(row.setting);
        expect({ setting: row.setting, kept: row.kept.startsWith(`${shown} `) }).toEqual({
          setting: row.setting,
          kept: true,
        });
      }
    });

  test("the two tables agree row for row: the same tables, settings and periods", () => {
    const shape = (rows: Row[]) =>
      rows.map((row) => ({
        where: row.where,
        setting: row.setting,
        period: /^`\d+`/.exec(row.kept)?.[0] ?? null,
      }));
    expect(shape(tables.Russian)).toEqual(shape(tables.English));
    for (const rows of Object.values(tables))
      for (const row of rows) expect(row.cells.every((cell) => cell.length > 0)).toBe(true);
  });
});
