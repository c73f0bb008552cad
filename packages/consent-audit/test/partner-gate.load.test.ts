import { afterAll, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  countAuditEvents,
  type DatabaseHandle,
  listAuditEvents,
  openDatabase,
  recordPartnerAttempt,
  verifyAuditChain,
} from "../src/index";
import { createTestDatabase } from "../src/testing";
import { APP_AUDIT, attemptInput, grant, newUserId } from "./fixtures";

setDefaultTimeout(60_000);

const handle = await createTestDatabase();
afterAll(() => handle.close());

const extraHandles: DatabaseHandle[] = [];
afterEach(async () => {
  await Promise.all(extraHandles.splice(0).map((h) => h.close()));
});

describe("concurrency", () => {
  test("200 concurrent attempts all succeed and the chain verifies", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    // On PostgreSQL half of them come from a second pool, as from another api instance.
    const instanceB = handle.url ? await openDatabase({ url: handle.url }) : handle;
    if (instanceB !== handle) extraHandles.push(instanceB);
    const ids = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        recordPartnerAttempt(
          (i % 2 === 0 ? handle : instanceB).db,
          attemptInput(userId, "intercom", i % 3),
          APP_AUDIT,
        ),
      ),
    );
    expect(new Set(ids).size).toBe(200);
    expect(
      await listAuditEvents(handle.db, { userId, kind: "partner.request", limit: 500 }),
    ).toHaveLength(200);
    expect(await verifyAuditChain(handle.db)).toEqual({
      ok: true,
      count: await countAuditEvents(handle.db),
    });
  });
});
