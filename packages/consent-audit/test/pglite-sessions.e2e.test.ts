import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { type DatabaseHandle, openDatabase } from "../src/database";
import { migrateDatabase, recordAuditEvent, verifyAuditChain } from "../src/index";
import { withStatementTimeout } from "../src/statement-timeout";
import { APP_AUDIT } from "./fixtures";

// A PGlite of its own runs initdb and every migration in WebAssembly: seconds.
setDefaultTimeout(30_000);

const opened: DatabaseHandle[] = [];
afterAll(async () => {
  await Promise.all(opened.splice(0).map((handle) => handle.close()));
});

// PGlite is what the embedded default runs on: checked whatever DATABASE_URL says.
describe("on PGlite (one backend: no pool, no statement timer)", () => {
  test("withStatementTimeout runs the work on the handle as it is; verify takes the option", async () => {
    const handle = await openDatabase({});
    opened.push(handle);
    await migrateDatabase(handle);
    expect(await withStatementTimeout(handle, 200, async (given) => given === handle)).toBe(true);
    await recordAuditEvent(handle.db, { ...APP_AUDIT, kind: "partner.event", result: "ok" });
    expect(await verifyAuditChain(handle.db, { statementTimeoutMs: 200 })).toEqual({
      ok: true,
      count: 1,
    });
  });
});
