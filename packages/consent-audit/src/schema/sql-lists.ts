import { type SQL, sql } from "drizzle-orm";

/** `IN ('a', 'b')` list for CHECK constraints; values are our own constants, never user input. */
export function sqlInList(values: readonly string[]): SQL {
  return sql.raw(`(${values.map((value) => `'${value.replaceAll("'", "''")}'`).join(", ")})`);
}

/** `ARRAY['a', 'b']::text[]` for CHECK constraints; values are our own constants, never user input. */
export function sqlTextArray(values: readonly string[]): SQL {
  return sql.raw(
    `array[${values.map((value) => `'${value.replaceAll("'", "''")}'`).join(", ")}]::text[]`,
  );
}
