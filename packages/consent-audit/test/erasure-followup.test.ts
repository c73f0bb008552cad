import { afterAll, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { sql } from "drizzle-orm";
import {
  claimDueErasurePolls,
  claimDueErasures,
  completeErasure,
  countOverdueErasures,
  type Database,
  type DatabaseHandle,
  enqueueErasure,
  exportDestructionRecords,
  finishAcceptedErasure,
  InvalidInputError,
  listAuditEvents,
  listErasures,
  markOverdueErasures,
  scheduleErasurePoll,
  verifyAuditChain,
} from "../src/index";
import { destructionRecords } from "../src/schema/index";
import { createTestDatabase } from "../src/testing";
import { ADMIN_AUDIT, newUserId } from "./fixtures";

setDefaultTimeout(60_000);

const WORKER_AUDIT = { sourceApp: "api", instanceId: "api-worker-1", actor: "erasure-worker" };
const DAY = 86_400;

// Claims and exports see every row of a database, so each test gets a database of its own.
const handles: DatabaseHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});
afterAll(() => Promise.all(handles.map((h) => h.close())));
async function freshDb(): Promise<Database> {
  const handle = await createTestDatabase();
  handles.push(handle);
  return handle.db;
}

function adminErasure(db: Database, userId: string, categories: ("faces" | "plates")[]) {
  return enqueueErasure(
    db,
    {
      userId,
      partner: categories.includes("plates") ? "barrier" : "intercom",
      categories,
      reason: "admin_request",
      requestedBy: "admin:adm_1",
    },
    ADMIN_AUDIT,
  );
}

describe("an accepted erasure is followed to the end", () => {
  test("accepted (202) → polled → done on the poll: one destruction record", async () => {
    const db = await freshDb();
    const userId = newUserId();
    const request = await adminErasure(db, userId, ["faces"]);
    const accepted = await completeErasure(db, request.id, {
      erased: null,
      status: "accepted",
      pollInSeconds: 0,
      audit: WORKER_AUDIT,
    });
    expect(accepted.status).toBe("accepted");
    // Not sent again as a DELETE, but due for a status poll.
    expect(await claimDueErasures(db, { limit: 10, leaseSeconds: 60 })).toEqual([]);
    const [polled] = await claimDueErasurePolls(db, { limit: 10, leaseSeconds: 60 });
    expect(polled?.id).toBe(request.id);
    // Leased: not claimed twice.
    expect(await claimDueErasurePolls(db, { limit: 10, leaseSeconds: 60 })).toEqual([]);

    // The partner says pending: asked again later, nothing recorded.
    await scheduleErasurePoll(db, request.id, { retryInSeconds: 0 });
    expect(await claimDueErasurePolls(db, { limit: 10, leaseSeconds: 60 })).toHaveLength(1);
    expect((await db.select().from(destructionRecords)).length).toBe(0);

    const at = new Date("2026-12-01T10:00:00.000Z");
    const done = await finishAcceptedErasure(db, request.id, {
      completedAt: at,
      audit: WORKER_AUDIT,
    });
    expect(done).toMatchObject({ status: "done", completedAt: at.toISOString() });
    // Twice: nothing more.
    await finishAcceptedErasure(db, request.id, { completedAt: null, audit: WORKER_AUDIT });
    expect(await claimDueErasurePolls(db, { limit: 10, leaseSeconds: 1 })).toEqual([]);

    const out = await exportDestructionRecords(db, { format: "json", keepYears: 3 }, ADMIN_AUDIT);
    if (out.format !== "json") throw new Error("json asked");
    expect(out.records).toHaveLength(1);
    expect(out.records[0]).toMatchObject({
      erasureId: request.id,
      userId,
      partner: "intercom",
      categories: ["faces"],
      confirmedBy: "status done on poll",
      destroyedAt: at.toISOString(),
      // DESTRUCTION_RECORD_YEARS after the destruction.
      keepUntil: "2029-12-01T10:00:00.000Z",
    });
    const completed = await listAuditEvents(db, { userId, kind: "erasure.completed" });
    expect(completed.map((e) => e.result).sort()).toEqual(["accepted", "ok"]);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true });
  });

  test("a 200 or 204 on the DELETE writes its record at once, saying which", async () => {
    const db = await freshDb();
    const counted = await adminErasure(db, newUserId(), ["faces"]);
    const bare = await adminErasure(db, newUserId(), ["plates"]);
    await completeErasure(db, counted.id, { erased: { faces: 2 }, audit: WORKER_AUDIT });
    await completeErasure(db, bare.id, { erased: null, audit: WORKER_AUDIT });
    await completeErasure(db, bare.id, { erased: null, audit: WORKER_AUDIT });
    const out = await exportDestructionRecords(db, { format: "json", keepYears: 3 }, ADMIN_AUDIT);
    if (out.format !== "json") throw new Error("json asked");
    const byErasure = new Map(out.records.map((r) => [r.erasureId, r]));
    expect(out.records).toHaveLength(2);
    expect(byErasure.get(counted.id)).toMatchObject({
      confirmedBy: "200 on DELETE",
      erased: { faces: 2 },
    });
    expect(byErasure.get(bare.id)).toMatchObject({
      confirmedBy: "204 on DELETE",
      partner: "barrier",
      erased: null,
    });
  });
});

describe("the deadline", () => {
  test("an accepted request unconfirmed at ERASURE_DEADLINE_DAYS turns overdue, once", async () => {
    const db = await freshDb();
    const userId = newUserId();
    const request = await adminErasure(db, userId, ["faces"]);
    await completeErasure(db, request.id, {
      erased: null,
      status: "accepted",
      audit: WORKER_AUDIT,
    });
    const requestedAt = new Date(request.requestedAt).getTime();
    const deadlineSeconds = 25 * DAY;

    const before = new Date(requestedAt + deadlineSeconds * 1000 - 1000);
    expect(
      await markOverdueErasures(db, { deadlineSeconds, now: before, audit: WORKER_AUDIT }),
    ).toEqual([]);
    expect(await countOverdueErasures(db, { olderThanSeconds: 72 * 3600 })).toBe(0);

    const at = new Date(requestedAt + deadlineSeconds * 1000);
    const marked = await markOverdueErasures(db, { deadlineSeconds, now: at, audit: WORKER_AUDIT });
    expect(marked.map((r) => [r.id, r.overdueSince])).toEqual([[request.id, at.toISOString()]]);
    expect(
      await markOverdueErasures(db, {
        deadlineSeconds,
        now: new Date(at.getTime() + DAY * 1000),
        audit: WORKER_AUDIT,
      }),
    ).toEqual([]);
    expect((await listErasures(db, { userId }))[0]?.overdueSince).toBe(at.toISOString());
    expect(await countOverdueErasures(db, { olderThanSeconds: 72 * 3600 })).toBe(1);
    expect(await listAuditEvents(db, { userId, kind: "erasure.overdue" })).toHaveLength(1);

    // Confirmed late: no longer counted, and its record is written all the same.
    await finishAcceptedErasure(db, request.id, { completedAt: null, audit: WORKER_AUDIT });
    expect(await countOverdueErasures(db, { olderThanSeconds: 72 * 3600 })).toBe(0);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true });
  });
});

describe("exportDestructionRecords", () => {
  test("CSV is RFC 4180, formula-safe, filtered by period, and audited", async () => {
    const db = await freshDb();
    const userId = newUserId();
    const request = await adminErasure(db, userId, ["faces"]);
    await completeErasure(db, request.id, { erased: { faces: 1 }, audit: WORKER_AUDIT });
    const old = await adminErasure(db, newUserId(), ["plates"]);
    await completeErasure(db, old.id, { erased: null, audit: WORKER_AUDIT });
    await db
      .update(destructionRecords)
      .set({ destroyedAt: new Date("2025-01-01T00:00:00Z") })
      .where(sql`${destructionRecords.erasureId} = ${old.id}`);
    // A user id that looks like a formula must open as text.
    await db
      .update(destructionRecords)
      .set({ userId: "=HYPERLINK(1)" })
      .where(sql`${destructionRecords.erasureId} = ${request.id}`);

    const out = await exportDestructionRecords(
      db,
      { format: "csv", keepYears: 3, from: new Date("2026-01-01T00:00:00Z") },
      ADMIN_AUDIT,
    );
    if (out.format !== "csv") throw new Error("csv asked");
    expect(out.rows).toBe(1);
    const lines = out.csv.split("\r\n");
    expect(lines[0]).toBe(
      '"id","erasureId","userId","partner","categories","confirmedBy","destroyedAt","requestedAt","recordedAt","erased","keepUntil"',
    );
    expect(lines[1]).toContain(
      `"${request.id}","'=HYPERLINK(1)","intercom","faces","200 on DELETE"`,
    );
    expect(lines[1]).toMatch(/,"\{""faces"":1\}","\d{4}-\d\d-\d\dT[\d:.]+Z"$/);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("");

    const all = await exportDestructionRecords(db, { format: "csv", keepYears: 3 }, ADMIN_AUDIT);
    if (all.format !== "csv") throw new Error("csv asked");
    expect(all.rows).toBe(2);

    const exports = await listAuditEvents(db, { kind: "admin.erasures.records" });
    expect(exports).toHaveLength(2);
    expect(exports.map((e) => e.target).sort()).toEqual([
      "csv:..",
      "csv:2026-01-01T00:00:00.000Z..",
    ]);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true });
  });

  test("a period that ends before it starts is refused", async () => {
    const db = await freshDb();
    await expect(
      exportDestructionRecords(
        db,
        { format: "json", keepYears: 3, from: new Date("2026-02-01"), to: new Date("2026-01-01") },
        ADMIN_AUDIT,
      ),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });
});
