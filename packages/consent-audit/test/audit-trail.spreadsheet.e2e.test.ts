import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { exportAuditCsv } from "../src/index";
import { createTestDatabase } from "../src/testing";
import { ADMIN_AUDIT, appendLifts } from "./fixtures";

/*
 * The audit CSV opened by a real spreadsheet program, LibreOffice Calc, the way a Russian-locale
 * desktop opens a `.csv`: split on `;` (and, to be thorough, on `,` and on tabs), formulas
 * evaluated. No cell may come out a formula. Needs `soffice` (Debian: libreoffice-calc-nogui).
 */
setDefaultTimeout(180_000);

const SOFFICE = Bun.which("soffice");
if (SOFFICE === null && process.env.CI)
  throw new Error("the audit CSV spreadsheet test must run in CI: soffice is missing");
if (SOFFICE === null)
  console.log(
    "[skip] the audit CSV in LibreOffice: soffice is not installed (libreoffice-calc-nogui)",
  );

const dir = mkdtempSync(join(tmpdir(), "propgate-csv-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Separators as LibreOffice's CSV filter names them: `;`, `,`, tab. */
const SEPARATORS = { semicolon: 59, comma: 44, tab: 9 } as const;

/**
 * `csv` imported by LibreOffice with `separator`, Russian (1049), formulas evaluated, saved as
 * flat ODF: the formulas of the sheet it made.
 */
async function formulasIn(csv: string, name: string, separator: number): Promise<string[]> {
  const file = join(dir, `${name}-${separator}.csv`);
  writeFileSync(file, csv);
  // Tokens: separator, text delimiter ("), UTF-8, first line, column formats, language,
  // quoted as text, special numbers, 3 export-only, evaluate formulas.
  const filter = `CSV:${separator},34,76,1,,1049,false,true,false,false,false,-1,true`;
  const run = Bun.spawn(
    [
      SOFFICE as string,
      `-env:UserInstallation=${pathToFileURL(join(dir, "profile")).href}`,
      "--headless",
      `--infilter=${filter}`,
      "--convert-to",
      "fods",
      "--outdir",
      dir,
      file,
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  if ((await run.exited) !== 0) throw new Error(await new Response(run.stderr).text());
  const sheet = readFileSync(file.replace(/\.csv$/, ".fods"), "utf8");
  return [...sheet.matchAll(/table:formula="([^"]*)"/g)].map((match) => match[1] ?? "");
}

test.skipIf(SOFFICE === null)(
  "every cell opens as text in LibreOffice split on ; , or tab, formulas evaluated",
  async () => {
    // The check can see a formula: an unquoted one in a plain file is one.
    expect(await formulasIn("a;=1+1\r\n", "control", SEPARATORS.semicolon)).toEqual(["of:=1+1"]);

    const database = await createTestDatabase();
    try {
      const reasons = [
        'ok;=HYPERLINK("x");y',
        "a,@SUM(1)",
        "\t=1",
        "ok;=1+1;y",
        "a,=2+2",
        "b\t=3+3",
        "line\n=4+4",
        "x; +5+5",
        '"=6+6"',
        "-7+7",
      ];
      await appendLifts(database.db, reasons);
      const { csv, rows } = await exportAuditCsv(
        database.db,
        { kind: "admin.blocks.lift" },
        ADMIN_AUDIT,
        { clientIp: "whole" },
      );
      expect(rows).toBe(reasons.length);
      for (const [name, separator] of Object.entries(SEPARATORS))
        expect({ name, formulas: await formulasIn(csv, "export", separator) }).toEqual({
          name,
          formulas: [],
        });
    } finally {
      await database.close();
    }
  },
);
