import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { envRows, envTable, integer, partnerEnv, undocumentedVariables } from "../src/index.ts";

describe("the configuration reference of an env schema", () => {
  test("a row per variable: the schema's default, else `unset`, else required or –", () => {
    const schema = z.object({
      A_PORT: integer(0, 65535).default(8080).meta({ description: "a port" }),
      A_LIST: z.array(z.string()).default([]).meta({ description: "a list" }),
      A_URL: z.string().meta({ description: "needed", production: "must be https" }),
      A_FILE: z.string().optional().meta({ description: "a file" }),
      A_DRAIN: z
        .string()
        .optional()
        .meta({ description: "computed", unset: "`5000` in production" }),
    });
    expect(envRows(schema)).toEqual([
      { variable: "A_PORT", default: "`8080`", production: "", description: "a port" },
      { variable: "A_LIST", default: "–", production: "", description: "a list" },
      {
        variable: "A_URL",
        default: "required",
        production: "must be https",
        description: "needed",
      },
      { variable: "A_FILE", default: "–", production: "", description: "a file" },
      {
        variable: "A_DRAIN",
        default: "`5000` in production",
        production: "",
        description: "computed",
      },
    ]);
  });

  test("a variable without a description has no row: the schema is refused, naming it", () => {
    const schema = z.object({
      DOCUMENTED: z.string().meta({ description: "fine" }),
      BARE: z.string(),
      WRAPPED_AFTER: z.string().meta({ description: "lost under .optional()" }).optional(),
    });
    expect(undocumentedVariables(schema)).toEqual(["BARE", "WRAPPED_AFTER"]);
    expect(() => envRows(schema)).toThrow(
      "BARE, WRAPPED_AFTER: no description; end the field with .meta({ description })",
    );
  });

  test("a table with padded columns; a pipe in a cell is escaped", () => {
    const table = envTable([
      { variable: "X", default: "`1`", production: "", description: "one | two" },
    ]);
    expect(table.split("\n")).toEqual([
      "| variable | default | production | what it does |",
      "| -------- | ------- | ---------- | ------------ |",
      "| `X`      | `1`     | –          | one \\| two   |",
    ]);
  });

  test("partner variables: one set per partner, `<P>` for the reference", () => {
    expect(Object.keys(partnerEnv("<P>").shape)).toContain("PARTNER_<P>_CLIENT_SECRET_FILE");
    expect(undocumentedVariables(partnerEnv("intercom"))).toEqual([]);
    const rows = (inlineSecretsTaken: boolean) =>
      envRows(partnerEnv("<P>", { inlineSecretsTaken })).find(
        (row) => row.variable === "PARTNER_<P>_SUBJECT_KEY",
      )?.production;
    expect(rows(false)).toBe(
      "refused inline (the environment is not secret): set `PARTNER_<P>_SUBJECT_KEY_FILE`",
    );
    expect(rows(true)).toStartWith("taken inline too");
  });
});
