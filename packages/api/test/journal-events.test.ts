import { afterAll, describe, expect, test } from "bun:test";
import {
  type AuditContext,
  appendJournal,
  createConsentCache,
  createResidentEventBus,
  type Database,
  grantConsent,
  type JournalEntryInput,
  revokeConsent,
} from "@propgate/consent-audit";
import { createTestDatabase } from "@propgate/consent-audit/testing";
import { databaseJournal } from "../src/events/journal-access.ts";
import { createJournalEvents } from "../src/events/journal-events.ts";
import type { ResidentEvent } from "../src/events/resident-event.ts";
import { eventually } from "./fixtures/eventually.ts";

/**
 * `events.onEvent`'s streams over the real journal (PostgreSQL with DATABASE_URL, else PGlite):
 * entries written by `appendJournal` and announced by its NOTIFY, as an instance wires them.
 */

const AUDIT: AuditContext = { sourceApp: "api", instanceId: "api-test", requestId: "req_test" };
const database = await createTestDatabase();
const consents = createConsentCache(database);
const journal = databaseJournal(database, consents);
const { hub } = createJournalEvents(journal, { maxStreamsPerResident: 5, maxStreams: 100 });
const bus = await createResidentEventBus(database, {
  onEvent: (notice) => hub.notify(notice),
  onReconnect: () => hub.resync(),
});
afterAll(async () => {
  await bus.close();
  await database.close();
});

const RING: JournalEntryInput = {
  kind: "call.incoming",
  deviceId: "door-a1",
  cameraId: "cam-a1",
  unitId: "unit-42",
  occurredAt: "2031-03-01T10:00:00.000Z",
  sourceEventId: "evt_source",
};

const newResident = () => `usr_${crypto.randomUUID()}`;

async function grantJournal(db: Database, userId: string) {
  await grantConsent(
    db,
    { userId, purpose: "journal", noticeVersion: 1, channel: "app", method: "in_app_checkbox" },
    AUDIT,
  );
}

/** Appends one entry for `userId`, as the partner event path does; its seq. */
async function append(userId: string, entry: Partial<JournalEntryInput> = {}): Promise<number> {
  const [written] = await database.db.transaction((tx) =>
    appendJournal(tx, { ...RING, ...entry }, [userId], { outbox: false }),
  );
  if (!written) throw new Error("nothing journaled: no journal consent?");
  return written.seq;
}

/** A stream as `events.onEvent` opens it: what it yielded, and how it ended. */
function open(userId: string, afterSeq: number | null) {
  const abort = new AbortController();
  const received: ResidentEvent[] = [];
  let error: unknown = null;
  const done = (async () => {
    try {
      for await (const event of hub.open(userId, afterSeq, { signal: abort.signal })) {
        received.push(event);
      }
    } catch (caught) {
      error = caught;
    }
  })();
  return {
    received,
    seqs: () => received.map((event) => event.seq),
    get error() {
      return error;
    },
    async stop() {
      abort.abort();
      await done;
    },
  };
}

/** The hub holds this many streams (each registered before it reads, so it misses no notice). */
const opened = (count: number) =>
  eventually(`${count} open`, () => hub.openStreams === count, 1000);

describe("events.onEvent over the journal", () => {
  test("an appended entry reaches its resident within a second, with its camera; no one else", async () => {
    const [anna, boris] = [newResident(), newResident()];
    await grantJournal(database.db, anna);
    await grantJournal(database.db, boris);
    const before = await append(anna);
    const annas = open(anna, before);
    const boriss = open(boris, 0); // from his first entry (he has none yet)
    await opened(2);

    const started = performance.now();
    const seq = await append(anna);
    await eventually("anna's entry", () => annas.received.length === 1, 1000);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(annas.received[0]).toEqual({
      id: expect.stringMatching(/^jrn_/),
      seq,
      kind: "call.incoming",
      deviceId: "door-a1",
      cameraId: "cam-a1",
      unitId: "unit-42",
      method: null,
      outcome: null,
      durationSeconds: null,
      occurredAt: "2031-03-01T10:00:00.000Z",
    });
    // Boris's own entry, announced after anna's, is all his stream ever gets.
    const his = await append(boris, { kind: "access.denied", method: "code", cameraId: null });
    await eventually("boris's entry", () => boriss.received.length === 1, 1000);
    expect(boriss.seqs()).toEqual([his]);
    expect(annas.seqs()).toEqual([seq]);
    await annas.stop();
    await boriss.stop();
    await opened(0);
  });

  test("resuming after a seq sends what came after it, oldest first, then live ones, nothing twice", async () => {
    const anna = newResident();
    await grantJournal(database.db, anna);
    const seen = await append(anna, { kind: "access.granted", method: "plate", cameraId: null });
    const missed = [await append(anna), await append(anna, { kind: "call.ended" })];
    const stream = open(anna, seen);
    await eventually("the missed entries", () => stream.received.length === 2, 5000);
    const live = await append(anna);
    await eventually("the live entry", () => stream.received.length === 3, 5000);
    await Bun.sleep(100);
    expect(stream.seqs()).toEqual([...missed, live]);
    expect(stream.received[0]?.kind).toBe("call.incoming");
    await stream.stop();
  });

  test("journal consent, the newest seq, and the journal erased by a revocation", async () => {
    const anna = newResident();
    expect(await journal.consented(anna)).toBe(false);
    expect(await journal.latestSeq(anna)).toBe(0);
    await grantJournal(database.db, anna);
    consents.changed({ userId: anna, purpose: "journal", state: "granted" });
    expect(await journal.consented(anna)).toBe(true);
    const first = await append(anna);
    const newest = await append(anna);
    expect(await journal.latestSeq(anna)).toBe(newest);
    expect((await journal.readSince(anna, 0, 10)).map((event) => event.seq)).toEqual([
      first,
      newest,
    ]);

    await revokeConsent(
      database.db,
      { userId: anna, purpose: "journal", channel: "app", method: "in_app_toggle", actor: anna },
      AUDIT,
    );
    // What the consent bus does on every instance (background.ts).
    consents.changed({ userId: anna, purpose: "journal", state: "revoked" });
    expect(await journal.consented(anna)).toBe(false);
    expect(await journal.readSince(anna, 0, 10)).toEqual([]);
    expect(await journal.latestSeq(anna)).toBe(0);
  });
});
