import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openConfiguredDatabase } from "../src/index";

const dir = mkdtempSync(join(tmpdir(), "propgate-configured-db-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A PGlite of its own runs initdb and every migration (seconds): the heavy lane.
test("no DATABASE_URL (null, as the admin app's settings say it): PGlite in the folder given", async () => {
  const folder = join(dir, "pglite");
  const handle = await openConfiguredDatabase({ DATABASE_URL: null }, folder);
  expect(handle.kind).toBe("pglite");
  expect(existsSync(folder)).toBe(true);
  await handle.close();
});
