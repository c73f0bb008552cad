import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openConfiguredDatabase } from "../src/index";

const dir = mkdtempSync(join(tmpdir(), "propgate-configured-db-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("DATABASE_URL set: PostgreSQL there, the folder unused (postgres.js connects on first query)", async () => {
  const folder = join(dir, "unused");
  const handle = await openConfiguredDatabase(
    { DATABASE_URL: "postgres://propgate@127.0.0.1:1/none", databasePassword: "pw" },
    folder,
  );
  expect(handle.kind).toBe("postgres");
  expect(existsSync(folder)).toBe(false);
  await handle.close();
});
