import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { sql } from "drizzle-orm";
import { recordAuditEvent, verifyAuditChain } from "../src/index";
import { createTestDatabase, type TestDatabase } from "../src/testing";
import { APP_AUDIT } from "./fixtures";

setDefaultTimeout(30_000);

const opened: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(opened.splice(0).map((handle) => handle.close()));
});

describe("verifyAuditChain across pages", () => {
  test("walks more than one page and still finds a deleted row past the first page", async () => {
    const handle = await createTestDatabase();
    opened.push(handle);
    await Promise.all(
      Array.from({ length: 1005 }, () =>
        recordAuditEvent(handle.db, { ...APP_AUDIT, kind: "partner.event", result: "ok" }),
      ),
    );
    expect(await verifyAuditChain(handle.db)).toEqual({ ok: true, count: 1005 });
    await handle.db.execute(sql`delete from audit_events where seq = 1001`);
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBadSeq: 1002 });
  });
});
