import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import {
  appendJournal,
  claimEventReceipt,
  confirmUnits,
  createJournalWriter,
  createResidentEventBus,
  type DatabaseHandle,
  getUnitByPartnerId,
  InvalidInputError,
  type JournalEntryInput,
  journalSince,
  listAuditEvents,
  listConsents,
  listJournal,
  openDatabase,
  pruneJournal,
  type ResidentEventBus,
  type ResidentEventNotice,
  residentsOfUnit,
  revokeConsent,
  upsertUnits,
} from "../src/index";
import { journalAppendStatement } from "../src/journal";
import { journalEntries, partnerEventReceipts, unitResidents, webhookOutbox } from "../src/schema";
import { createTestDatabase } from "../src/testing";
import {
  ADMIN_AUDIT,
  APP_AUDIT,
  databasesPerTest,
  expectConsentsReadByKey,
  grant,
  Inbox,
  newUserId,
  plansOverManyConsents,
  revokeInput,
  sqlLiteral,
} from "./fixtures";

setDefaultTimeout(60_000);

const database = databasesPerTest();
const onPostgres = process.env.DATABASE_URL !== undefined;
if (!onPostgres) {
  console.log("[skip] journal across api instances: needs PostgreSQL (set DATABASE_URL)");
}

const buses: ResidentEventBus[] = [];
const extraHandles: DatabaseHandle[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
  for (const h of extraHandles.splice(0).reverse()) await h.close();
});

const RING: JournalEntryInput = {
  kind: "call.incoming",
  deviceId: "door_1",
  cameraId: "cam_1",
  unitId: "unit-42",
  occurredAt: "2031-03-01T10:00:00.000Z",
  sourceEventId: "evt_source",
};

function append(db: DatabaseHandle["db"], userIds: string[], entry = RING, outbox = false) {
  return db.transaction((tx) => appendJournal(tx, entry, userIds, { outbox }));
}

describe("appendJournal", () => {
  test("keeps the event only for residents whose journal consent is granted now", async () => {
    const { db } = await database();
    const [withConsent, revoked, never] = [newUserId(), newUserId(), newUserId()];
    await grant(db, withConsent, "journal");
    await grant(db, revoked, "journal");
    await revokeConsent(db, revokeInput(revoked, "journal"), APP_AUDIT);
    await grant(db, never, "intercom");

    const written = await append(db, [withConsent, revoked, never]);

    expect(written.map((e) => e.userId)).toEqual([withConsent]);
    expect(written[0]).toMatchObject({
      kind: "call.incoming",
      deviceId: "door_1",
      cameraId: "cam_1",
      unitId: "unit-42",
      method: null,
      occurredAt: "2031-03-01T10:00:00.000Z",
      sourceEventId: "evt_source",
    });
    expect(written[0]?.id).toMatch(/^jrn_/);
    expect((await listJournal(db, revoked)).entries).toEqual([]);
    expect((await listJournal(db, never)).entries).toEqual([]);
  });

  test("fans out to every resident, each announced on the bus at commit", async () => {
    const handle = await database();
    const residents = [newUserId(), newUserId(), newUserId()];
    for (const userId of residents) await grant(handle.db, userId, "journal");
    const events = new Inbox<ResidentEventNotice>();
    buses.push(await createResidentEventBus(handle, { onEvent: events.push, onReconnect() {} }));

    const written = await append(handle.db, residents);

    expect(written.map((e) => e.userId).sort()).toEqual([...residents].sort());
    for (const entry of written) {
      expect(await events.take(entry.userId, (e) => e.userId === entry.userId)).toEqual({
        userId: entry.userId,
        seq: entry.seq,
      });
    }
  });

  test("a rolled-back append is neither kept nor announced", async () => {
    const handle = await database();
    const userId = newUserId();
    await grant(handle.db, userId, "journal");
    const events = new Inbox<ResidentEventNotice>();
    buses.push(await createResidentEventBus(handle, { onEvent: events.push, onReconnect() {} }));
    await expect(
      handle.db.transaction(async (tx) => {
        await appendJournal(tx, RING, [userId], { outbox: false });
        throw new Error("the partner event failed");
      }),
    ).rejects.toThrow("the partner event failed");
    const later = await append(handle.db, [userId]);
    // The bus delivers in commit order: the committed entry arrives and nothing before it.
    await events.take("the committed entry", (e) => e.userId === userId);
    expect(events.items).toEqual([{ userId, seq: later[0]?.seq ?? 0 }]);
    expect((await listJournal(handle.db, userId)).entries.map((e) => e.seq)).toEqual([
      later[0]?.seq ?? 0,
    ]);
  });

  test("queues one webhook message per entry with opaque ids, call.incoming first", async () => {
    const { db } = await database();
    const [a, b] = [newUserId(), newUserId()];
    await grant(db, a, "journal");
    await grant(db, b, "journal");
    await append(db, [a], { ...RING, kind: "access.granted", method: "plate" }, true);
    const rings = await append(db, [a, b], RING, true);
    await append(db, [b], RING, false);

    const rows = await db.select().from(webhookOutbox).orderBy(webhookOutbox.seq);
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.status === "pending" && r.attempts === 0)).toBe(true);
    expect(rows.map((r) => [r.eventType, r.priority])).toEqual([
      ["access.granted", 1],
      ["call.incoming", 0],
      ["call.incoming", 0],
    ]);
    const ring = rows.find((r) => r.journalSeq === rings[0]?.seq);
    expect(ring?.id).toMatch(/^msg_/);
    expect(ring?.payload).toEqual({
      type: "call.incoming",
      timestamp: "2031-03-01T10:00:00.000Z",
      data: {
        id: rings[0]?.id,
        userId: rings[0]?.userId,
        deviceId: "door_1",
        cameraId: "cam_1",
        unitId: "unit-42",
        method: null,
        outcome: null,
        durationSeconds: null,
      },
    });
  });

  test("refuses an entry outside the vocabulary, writing nothing", async () => {
    const { db } = await database();
    const userId = newUserId();
    await grant(db, userId, "journal");
    const bad = { ...RING, plate: "A123BC77" } as unknown as JournalEntryInput;
    await expect(append(db, [userId], bad)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      append(db, [userId], { ...RING, method: "fingerprint" } as unknown as JournalEntryInput),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(await db.select().from(journalEntries)).toEqual([]);
  });

  test("reads each recipient's journal consent by key, however many residents there are", async () => {
    const { db } = await database();
    const rows = JSON.stringify(
      ["usr_plan2", "usr_plan1"].map((userId, n) => ({
        n,
        id: `jrn_plan${n}`,
        user_id: userId,
        kind: "door.opened",
        device_id: "door_1",
        occurred_at: "2031-03-01T10:00:00.000Z",
        source_event_id: `evt_plan${n}`,
        message_id: `msg_plan${n}`,
      })),
    );
    const query = new PgDialect().sqlToQuery(journalAppendStatement(rows, true));
    const plans = await plansOverManyConsents(
      db,
      "journal",
      query.sql,
      query.params.map(sqlLiteral),
    );
    for (const plan of plans) expectConsentsReadByKey(plan);
  });
});

describe("the journal writer (group commit of own opens)", () => {
  const open = (userId: string, n: number): JournalEntryInput => ({
    kind: "access.granted",
    method: "app",
    deviceId: "door_1",
    occurredAt: "2031-03-01T10:00:00.000Z",
    sourceEventId: `call_${userId}_${n}`,
  });

  test("concurrent appends share one transaction; each caller gets its own entries, announced and queued for the webhook", async () => {
    const handle = await database();
    const keeping = Array.from({ length: 8 }, () => newUserId());
    const notKeeping = [newUserId(), newUserId()];
    for (const userId of keeping) await grant(handle.db, userId, "journal");
    const events = new Inbox<ResidentEventNotice>();
    buses.push(await createResidentEventBus(handle, { onEvent: events.push, onReconnect() {} }));
    const writer = createJournalWriter(handle.db, { outbox: true });

    const residents = [...keeping, ...notKeeping];
    const written = await Promise.all(
      residents.map((userId, n) => writer.append(open(userId, n), [userId])),
    );

    expect(writer.stats).toEqual({ batches: 1, appends: 10 });
    residents.forEach((userId, n) => {
      if (notKeeping.includes(userId)) expect(written[n]).toEqual([]);
      else
        expect(written[n]).toMatchObject([
          { userId, kind: "access.granted", sourceEventId: `call_${userId}_${n}` },
        ]);
    });
    for (const [entry] of written.filter((entries) => entries.length > 0)) {
      if (!entry) continue;
      expect(await events.take(entry.userId, (e) => e.userId === entry.userId)).toEqual({
        userId: entry.userId,
        seq: entry.seq,
      });
    }
    const queued = await handle.db.select().from(webhookOutbox);
    expect(queued.map((row) => row.userId).sort()).toEqual([...keeping].sort());
    await writer.close();
    await expect(writer.append(open(keeping[0] ?? "", 99), keeping)).rejects.toThrow(
      "the journal writer is closed",
    );
  });

  test("a batch that fails is retried an event at a time: the bad one fails alone", async () => {
    const { db } = await database();
    const residents = [newUserId(), newUserId(), newUserId()];
    for (const userId of residents) await grant(db, userId, "journal");
    await db.execute(sql`create function reject_bad_entry() returns trigger language plpgsql as $$
      begin
        if new.source_event_id = 'call_bad' then raise exception 'a bad entry'; end if;
        return new;
      end $$`);
    await db.execute(sql`create trigger reject_bad_entry before insert on journal_entries
      for each row execute function reject_bad_entry()`);
    const writer = createJournalWriter(db, { outbox: false });

    const outcomes = await Promise.allSettled(
      residents.map((userId, n) =>
        writer.append(
          n === 1 ? { ...open(userId, n), sourceEventId: "call_bad" } : open(userId, n),
          [userId],
        ),
      ),
    );

    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    // The driver's error, under the query builder's.
    const failure = (outcomes[1] as PromiseRejectedResult).reason as Error;
    expect(String(failure.cause ?? failure)).toContain("a bad entry");
    for (const userId of [residents[0], residents[2]])
      expect((await listJournal(db, userId ?? "")).entries).toHaveLength(1);
    expect((await listJournal(db, residents[1] ?? "")).entries).toEqual([]);
    // Bad input never reaches a batch: it fails its caller at once.
    await expect(
      writer.append({ ...open(residents[0] ?? "", 7), kind: "door.exploded" as never }, residents),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });
});

describe("listJournal", () => {
  async function journalOf(count: number) {
    const handle = await database();
    const userId = newUserId();
    await grant(handle.db, userId, "journal");
    for (let i = 0; i < count; i++) {
      await append(handle.db, [userId], {
        ...RING,
        kind: "access.granted",
        method: "key",
        deviceId: i % 2 === 0 ? "door_even" : "door_odd",
        occurredAt: new Date(Date.UTC(2031, 0, 1 + i)).toISOString(),
      });
    }
    return { ...handle, userId };
  }

  test("pages newest first with an opaque cursor, to the end", async () => {
    const { db, userId } = await journalOf(5);
    const first = await listJournal(db, userId, { limit: 2 });
    const second = await listJournal(db, userId, { limit: 2, cursor: first.nextCursor ?? "" });
    const third = await listJournal(db, userId, { limit: 2, cursor: second.nextCursor ?? "" });
    const days = [first, second, third].flatMap((page) =>
      page.entries.map((e) => e.occurredAt.slice(0, 10)),
    );
    expect(days).toEqual(["2031-01-05", "2031-01-04", "2031-01-03", "2031-01-02", "2031-01-01"]);
    expect(third.nextCursor).toBeNull();
    expect(first.nextCursor).not.toMatch(/^\d+$/);
  });

  test("filters by device and by since", async () => {
    const { db, userId } = await journalOf(5);
    const even = await listJournal(db, userId, { deviceId: "door_even" });
    expect(even.entries.map((e) => e.occurredAt.slice(0, 10))).toEqual([
      "2031-01-05",
      "2031-01-03",
      "2031-01-01",
    ]);
    const recent = await listJournal(db, userId, { since: "2031-01-04T00:00:00Z" });
    expect(recent.entries.map((e) => e.occurredAt.slice(0, 10))).toEqual([
      "2031-01-05",
      "2031-01-04",
    ]);
    expect(recent.nextCursor).toBeNull();
  });

  test("shows a resident nobody else's entries", async () => {
    const { db, userId } = await journalOf(2);
    const other = newUserId();
    await grant(db, other, "journal");
    expect((await listJournal(db, other)).entries).toEqual([]);
    expect((await listJournal(db, userId)).entries).toHaveLength(2);
  });

  test("a made-up cursor or a too large page is InvalidInputError", async () => {
    const { db, userId } = await journalOf(1);
    for (const cursor of ["12", "bm9wZQ", "!!", Buffer.from("j1.-3").toString("base64url")]) {
      await expect(listJournal(db, userId, { cursor })).rejects.toBeInstanceOf(InvalidInputError);
    }
    await expect(listJournal(db, userId, { limit: 101 })).rejects.toBeInstanceOf(InvalidInputError);
  });

  test("journalSince resumes after a seq, oldest first", async () => {
    const { db, userId } = await journalOf(4);
    const all = (await listJournal(db, userId)).entries.map((e) => e.seq).reverse();
    const resumed = await journalSince(db, userId, all[1] ?? 0, 100);
    expect(resumed.map((e) => e.seq)).toEqual(all.slice(2));
    expect((await journalSince(db, userId, 0, 1)).map((e) => e.seq)).toEqual(all.slice(0, 1));
  });
});

describe("erasure on revoke", () => {
  test("revoking journal consent erases the journal and its queued messages, audited", async () => {
    const { db } = await database();
    const [userId, neighbour] = [newUserId(), newUserId()];
    await grant(db, userId, "journal");
    await grant(db, neighbour, "journal");
    await append(db, [userId, neighbour], RING, true);
    await append(db, [userId], { ...RING, kind: "call.ended", outcome: "missed" }, true);

    await revokeConsent(db, revokeInput(userId, "journal"), APP_AUDIT);

    expect((await listJournal(db, userId)).entries).toEqual([]);
    expect(await db.select().from(webhookOutbox).where(eq(webhookOutbox.userId, userId))).toEqual(
      [],
    );
    expect((await listJournal(db, neighbour)).entries).toHaveLength(1);
    const [erased] = await listAuditEvents(db, { userId, kind: "journal.erased" });
    expect(erased).toMatchObject({ purpose: "journal", target: "2 entries", result: "ok" });
    const states = await listConsents(db, userId);
    expect(states.find((c) => c.purpose === "journal")?.state).toBe("revoked");
    // Nothing is kept after the revoke either.
    await append(db, [userId]);
    expect((await listJournal(db, userId)).entries).toEqual([]);
  });

  test.if(onPostgres)(
    "a revoke on instance A is announced to instance B's consent bus and empties what B reads",
    async () => {
      const a = await database();
      const b = await openDatabase({ url: a.url ?? "", max: 2 });
      extraHandles.push(b);
      const userId = newUserId();
      await grant(a.db, userId, "journal");
      await append(a.db, [userId]);
      expect((await listJournal(b.db, userId)).entries).toHaveLength(1);
      const { createConsentBus } = await import("../src/index");
      const changes = new Inbox<{ userId: string; purpose: string; state: string }>();
      const bus = await createConsentBus(b, { onChange: changes.push, onReconnect() {} });
      try {
        await revokeConsent(a.db, revokeInput(userId, "journal"), APP_AUDIT);
        await changes.take(
          "the revoke on B",
          (c) => c.userId === userId && c.purpose === "journal" && c.state === "revoked",
        );
        // Announced at commit: whatever B reads once told is already empty.
        expect((await listJournal(b.db, userId)).entries).toEqual([]);
      } finally {
        await bus.close();
      }
    },
  );

  test.if(onPostgres)(
    "an entry committed on A is announced on B's resident event bus",
    async () => {
      const a = await createTestDatabase();
      extraHandles.push(a);
      const b = await openDatabase({ url: a.url ?? "", max: 2 });
      extraHandles.push(b);
      const events = new Inbox<ResidentEventNotice>();
      buses.push(await createResidentEventBus(b, { onEvent: events.push, onReconnect() {} }));
      const userId = newUserId();
      await grant(a.db, userId, "journal");
      const [entry] = await append(a.db, [userId]);
      expect(await events.take("the entry on B", (e) => e.userId === userId)).toEqual({
        userId,
        seq: entry?.seq ?? 0,
      });
      expect((await journalSince(b.db, userId, 0, 10)).map((e) => e.id)).toEqual([
        entry?.id ?? "missing",
      ]);
    },
  );
});

describe("retention", () => {
  test("prunes entries and receipts recorded before the bound, in batches, oldest first", async () => {
    const { db } = await database();
    const userId = newUserId();
    await grant(db, userId, "journal");
    for (let i = 0; i < 5; i++) await append(db, [userId]);
    await db.transaction(async (tx) => {
      for (let i = 0; i < 3; i++) await claimEventReceipt(tx, "intercom", `old-${i}`, "evt_x");
      await claimEventReceipt(tx, "intercom", "fresh", "evt_y");
    });
    // Age four entries and three receipts by 100 days; one entry and one receipt stay fresh.
    const seqs = (await journalSince(db, userId, 0, 10)).map((e) => e.seq);
    await db.execute(
      sql`update journal_entries set recorded_at = now() - interval '100 days' + make_interval(secs => seq) where seq <= ${seqs[3] ?? 0}`,
    );
    await db.execute(
      sql`update partner_event_receipts set received_at = now() - interval '100 days' where partner_event_id like 'old-%'`,
    );
    const bound = new Date(Date.now() - 90 * 86_400_000);

    expect(await pruneJournal(db, bound, 3)).toEqual({ entries: 3, receipts: 3 });
    // Oldest first: of the four aged ones, the newest (seq 4) is what is left.
    expect((await journalSince(db, userId, 0, 10)).map((e) => e.seq)).toEqual(seqs.slice(3));
    expect(await pruneJournal(db, bound, 3)).toEqual({ entries: 1, receipts: 0 });
    expect(await pruneJournal(db, bound, 3)).toEqual({ entries: 0, receipts: 0 });
    expect((await journalSince(db, userId, 0, 10)).map((e) => e.seq)).toEqual(seqs.slice(4));
    const receipts = await db.select().from(partnerEventReceipts);
    expect(receipts.map((r) => r.partnerEventId)).toEqual(["fresh"]);
  });
});

describe("partner event receipts", () => {
  test("a partner's event id is claimed once; the other partner's same id is its own", async () => {
    const { db } = await database();
    const claim = (partner: "intercom" | "barrier", id: string) =>
      db.transaction((tx) => claimEventReceipt(tx, partner, id, "evt_1"));
    expect(await claim("intercom", "ev-1")).toBe(true);
    expect(await claim("intercom", "ev-1")).toBe(false);
    expect(await claim("barrier", "ev-1")).toBe(true);
    await expect(claim("intercom", "x".repeat(129))).rejects.toBeInstanceOf(InvalidInputError);
  });
});

describe("units and their residents", () => {
  test("maps a partner's flat to our unit; a partner flat maps to one unit only", async () => {
    const { db } = await database();
    await upsertUnits(
      db,
      [{ id: "unit-42", partner: "intercom", partnerUnitId: "flat-42", siteId: "site-a" }],
      ADMIN_AUDIT,
    );
    expect(await listAuditEvents(db, { kind: "admin.units.upsert" })).toMatchObject([
      { target: "unit-42", partner: "intercom", actor: ADMIN_AUDIT.actor },
    ]);
    expect(await getUnitByPartnerId(db, "intercom", "flat-42")).toEqual({
      id: "unit-42",
      partner: "intercom",
      partnerUnitId: "flat-42",
      siteId: "site-a",
    });
    expect(await getUnitByPartnerId(db, "barrier", "flat-42")).toBeNull();
    await expect(
      upsertUnits(
        db,
        [{ id: "unit-43", partner: "intercom", partnerUnitId: "flat-42", siteId: "site-a" }],
        ADMIN_AUDIT,
      ),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });

  test("memberships follow the token; stale ones address no one", async () => {
    const { db } = await database();
    const [ann, bob] = [newUserId(), newUserId()];
    await confirmUnits(db, ann, ["unit-42", "unit-7"]);
    await confirmUnits(db, bob, ["unit-42"]);
    expect(await residentsOfUnit(db, "unit-42", 86_400)).toEqual([ann, bob].sort());

    await confirmUnits(db, ann, ["unit-7"]);
    expect(await residentsOfUnit(db, "unit-42", 86_400)).toEqual([bob]);
    expect(await residentsOfUnit(db, "unit-7", 86_400)).toEqual([ann]);

    await db
      .update(unitResidents)
      .set({ confirmedAt: sql`now() - interval '31 days'` })
      .where(eq(unitResidents.userId, bob));
    expect(await residentsOfUnit(db, "unit-42", 30 * 86_400)).toEqual([]);
    expect(await residentsOfUnit(db, "unit-42", 40 * 86_400)).toEqual([bob]);

    await confirmUnits(db, ann, []);
    expect(await residentsOfUnit(db, "unit-7", 86_400)).toEqual([]);
    await expect(confirmUnits(db, ann, ["not a unit"])).rejects.toBeInstanceOf(InvalidInputError);
  });
});
