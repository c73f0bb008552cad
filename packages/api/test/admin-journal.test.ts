import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  appendJournal,
  type DatabaseHandle,
  grantConsent,
  pageAuditEvents,
} from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import type { Principal } from "../src/index.ts";
import { callerAs, testPrincipal } from "./fixtures/database-app.ts";

/** `admin.journal.list`: an admin reads a resident's journal and their `journal` consent. */

setDefaultTimeout(60_000);

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.close();
});

const person = testPrincipal;

const VIEWER = person("viewer", "viewer");
const OPERATOR = person("operator", "operator");

const caller = (principal: Principal) => callerAs(database, principal);

async function grantJournal(db: DatabaseHandle["db"], userId: string) {
  await grantConsent(
    db,
    { userId, purpose: "journal", noticeVersion: 1, channel: "app", method: "in_app_checkbox" },
    { sourceApp: "api", instanceId: "api-test" },
  );
}

/** Day `day` of January 2031: a missed call at door-a1, or an opening by key at gate-b1. */
function happened(userId: string, day: number, kind: "call" | "key") {
  const occurredAt = new Date(Date.UTC(2031, 0, day)).toISOString();
  const entry =
    kind === "call"
      ? {
          kind: "call.ended" as const,
          deviceId: "door-a1",
          cameraId: "cam-a1",
          outcome: "missed" as const,
          durationSeconds: 30,
        }
      : { kind: "access.granted" as const, deviceId: "gate-b1", method: "key" as const };
  return database.db.transaction((tx) =>
    appendJournal(tx, { ...entry, occurredAt, sourceEventId: `evt_${day}` }, [userId], {
      outbox: false,
    }),
  );
}

describe("admin.journal.list", () => {
  test("a viewer reads the resident's journal newest first, with their journal consent", async () => {
    const anna = person("anna");
    await grantJournal(database.db, anna.userId);
    await happened(anna.userId, 1, "call");
    await happened(anna.userId, 2, "key");
    const audited = await pageAuditEvents(database.db, { userId: anna.userId, limit: 500 });

    const page = await caller(VIEWER).admin.journal.list({ userId: anna.userId });
    expect(page.userId).toBe(anna.userId);
    expect(page.consent).toMatchObject({
      purpose: "journal",
      state: "granted",
      grantedNoticeVersion: 1,
    });
    expect(page.nextCursor).toBeNull();
    expect(page.entries).toHaveLength(2);
    expect(page.entries[0]).toMatchObject({
      kind: "access.granted",
      deviceId: "gate-b1",
      method: "key",
      outcome: null,
      durationSeconds: null,
      occurredAt: "2031-01-02T00:00:00.000Z",
      sourceEventId: "evt_2",
    });
    expect(page.entries[1]).toMatchObject({
      kind: "call.ended",
      deviceId: "door-a1",
      cameraId: "cam-a1",
      method: null,
      outcome: "missed",
      durationSeconds: 30,
      occurredAt: "2031-01-01T00:00:00.000Z",
    });
    expect(page.entries[0]?.id).toStartWith("jrn_");
    // Opaque ids and what happened; not the resident's id again, nor the table's order.
    expect(Object.keys(page.entries[0] ?? {})).not.toContain("userId");
    expect(Object.keys(page.entries[0] ?? {})).not.toContain("seq");

    // An operator reads it alike. Each look is on record: whose journal, who looked.
    expect(await caller(OPERATOR).admin.journal.list({ userId: anna.userId })).toEqual(page);
    const after = await pageAuditEvents(database.db, { userId: anna.userId, limit: 500 });
    const reads = after.rows.filter((row) => !audited.rows.some((old) => old.id === row.id));
    expect(reads.map((row) => ({ kind: row.kind, actor: row.actor, userId: row.userId }))).toEqual([
      { kind: "admin.journal.read", actor: OPERATOR.userId, userId: anna.userId },
      { kind: "admin.journal.read", actor: VIEWER.userId, userId: anna.userId },
    ]);
  });

  test("a resident, even one asking for their own journal, is FORBIDDEN", async () => {
    const anna = person("anna");
    await grantJournal(database.db, anna.userId);
    await happened(anna.userId, 1, "call");
    await expect(caller(anna).admin.journal.list({ userId: anna.userId })).rejects.toMatchObject({
      code: "FORBIDDEN",
      propgate: { code: "FORBIDDEN" },
    });
  });

  test("pages to older entries by cursor, and narrows by device and time", async () => {
    const anna = person("anna");
    await grantJournal(database.db, anna.userId);
    for (const day of [1, 2, 3, 4, 5]) await happened(anna.userId, day, day % 2 ? "call" : "key");
    const admin = caller(VIEWER).admin.journal;
    const days = (entries: { occurredAt: string }[]) =>
      entries.map((entry) => new Date(entry.occurredAt).getUTCDate());

    const first = await admin.list({ userId: anna.userId, limit: 2 });
    expect(days(first.entries)).toEqual([5, 4]);
    const cursor = first.nextCursor ?? "";
    expect(cursor).not.toBe("");
    const second = await admin.list({ userId: anna.userId, limit: 2, cursor });
    expect(days(second.entries)).toEqual([3, 2]);
    const third = await admin.list({
      userId: anna.userId,
      limit: 2,
      cursor: second.nextCursor ?? "",
    });
    expect(days(third.entries)).toEqual([1]);
    expect(third.nextCursor).toBeNull();

    const atDoor = await admin.list({ userId: anna.userId, deviceId: "door-a1" });
    expect(days(atDoor.entries)).toEqual([5, 3, 1]);
    const recent = await admin.list({ userId: anna.userId, since: "2031-01-04T01:00:00+01:00" });
    expect(days(recent.entries)).toEqual([5, 4]);
  });

  test("without journal consent nothing is kept; after a revoke the journal is gone", async () => {
    const never = person("never");
    await happened(never.userId, 1, "call");
    expect(await caller(VIEWER).admin.journal.list({ userId: never.userId })).toMatchObject({
      consent: { purpose: "journal", state: "none", grantedNoticeVersion: null, updatedAt: null },
      entries: [],
      nextCursor: null,
    });

    const anna = person("anna");
    await grantJournal(database.db, anna.userId);
    await happened(anna.userId, 1, "call");
    expect((await caller(VIEWER).admin.journal.list({ userId: anna.userId })).entries).toHaveLength(
      1,
    );
    await caller(OPERATOR).admin.consents.revoke({
      userId: anna.userId,
      purpose: "journal",
      reason: "written request from the resident",
    });
    const revoked = await caller(VIEWER).admin.journal.list({ userId: anna.userId });
    expect(revoked.consent.state).toBe("revoked");
    expect(revoked.entries).toEqual([]);
  });

  test("bad input is refused with what was wrong", async () => {
    const admin = caller(VIEWER).admin.journal;
    const anna = person("anna");
    await expect(admin.list({ userId: anna.userId, cursor: "made-up" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      propgate: { code: "INVALID_INPUT" },
    });
    for (const input of [
      { userId: "bad id!" },
      { userId: anna.userId, since: "yesterday" },
      { userId: anna.userId, limit: 101 },
      { userId: anna.userId, deviceId: "" },
    ]) {
      await expect(admin.list(input)).rejects.toMatchObject({ code: "BAD_REQUEST" });
    }
    // A field the procedure does not know is refused rather than ignored.
    await expect(
      admin.list({ userId: anna.userId, unit: "unit-42" } as unknown as { userId: string }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});
