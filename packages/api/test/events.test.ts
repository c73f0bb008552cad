import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  appendJournal,
  createConsentCache,
  createJournalWriter,
  type DatabaseHandle,
  grantConsent,
  residentsOfUnit,
} from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { journalOwnOpen } from "../src/events/journal-own-open.ts";
import type { Principal } from "../src/index.ts";
import { databaseApp } from "./fixtures/database-app.ts";

setDefaultTimeout(60_000);

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.close();
});

function resident(name: string, units: string[] = []): Principal {
  return { userId: `${name}-${crypto.randomUUID()}`, sites: ["site-a"], units, adminRole: null };
}

/** An api instance on the test database. */
function instance(principals: Record<string, Principal>) {
  return databaseApp(database, principals);
}

async function grantJournal(db: DatabaseHandle["db"], userId: string) {
  await grantConsent(
    db,
    { userId, purpose: "journal", noticeVersion: 1, channel: "app", method: "in_app_checkbox" },
    { sourceApp: "api", instanceId: "api-test" },
  );
}

function ring(db: DatabaseHandle["db"], userIds: string[], day: number) {
  return db.transaction((tx) =>
    appendJournal(
      tx,
      {
        kind: "call.incoming",
        deviceId: "door-a1",
        cameraId: "cam-a1",
        unitId: "unit-42",
        occurredAt: new Date(Date.UTC(2031, 0, day)).toISOString(),
        sourceEventId: "evt_ring",
      },
      userIds,
      { outbox: false },
    ),
  );
}

describe("events.list", () => {
  test("without journal consent: nothing kept, an empty list that says why", async () => {
    const anna = resident("anna");
    const { caller } = instance({ anna });
    await ring(database.db, [anna.userId], 1);
    expect(await caller("anna").events.list({})).toEqual({
      journal: "not_granted",
      entries: [],
      nextCursor: null,
    });
  });

  test("pages the resident's journal newest first; a made-up cursor is INVALID_INPUT", async () => {
    const anna = resident("anna");
    const boris = resident("boris");
    const { caller } = instance({ anna, boris });
    await grantJournal(database.db, anna.userId);
    for (const day of [1, 2, 3]) await ring(database.db, [anna.userId], day);

    const first = await caller("anna").events.list({});
    expect(first.journal).toBe("granted");
    expect(first.entries.map((e) => e.occurredAt)).toEqual([
      "2031-01-03T00:00:00.000Z",
      "2031-01-02T00:00:00.000Z",
      "2031-01-01T00:00:00.000Z",
    ]);
    expect(first.entries[0]).toEqual({
      id: expect.stringMatching(/^jrn_/),
      kind: "call.incoming",
      deviceId: "door-a1",
      cameraId: "cam-a1",
      unitId: "unit-42",
      method: null,
      outcome: null,
      durationSeconds: null,
      occurredAt: "2031-01-03T00:00:00.000Z",
    });
    const recent = await caller("anna").events.list({ since: "2031-01-02T00:00:00Z" });
    expect(recent.entries).toHaveLength(2);
    expect((await caller("boris").events.list({})).entries).toEqual([]);
    await expect(caller("anna").events.list({ cursor: "not-a-cursor" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
  });

  test("revoking journal consent through the api empties the list at once", async () => {
    const anna = resident("anna");
    const { caller } = instance({ anna });
    await grantJournal(database.db, anna.userId);
    await ring(database.db, [anna.userId], 5);
    expect((await caller("anna").events.list({})).entries).toHaveLength(1);
    await caller("anna").consent.revoke({ purpose: "journal" });
    expect(await caller("anna").events.list({})).toEqual({
      journal: "not_granted",
      entries: [],
      nextCursor: null,
    });
  });

  test("a resident's call confirms the units their token names", async () => {
    const unit = `unit-${crypto.randomUUID().slice(0, 8)}`;
    const anna = resident("anna", [unit]);
    const { caller } = instance({ anna });
    await caller("anna").events.list({});
    expect(await residentsOfUnit(database.db, unit, 60)).toEqual([anna.userId]);
  });
});

describe("own opens", () => {
  test("an open is journaled for the resident with journal consent, by app", async () => {
    const anna = resident("anna");
    const { deps, caller } = instance({ anna });
    const consents = createConsentCache(database);
    await grantJournal(database.db, anna.userId);
    const journal = createJournalWriter(database.db, { outbox: false });
    await journalOwnOpen(
      { journal, consents, logger: deps.logger, requestId: "req-1" },
      {
        userId: anna.userId,
        deviceId: "door-a1",
        callId: "call_1",
        at: "2031-02-01T08:00:00.000Z",
      },
    );
    const { entries } = await caller("anna").events.list({});
    expect(entries).toMatchObject([{ kind: "access.granted", method: "app", deviceId: "door-a1" }]);
  });

  test("a journal that cannot be written is logged, and the open stands", async () => {
    const anna = resident("anna");
    const { deps, lines } = instance({ anna });
    const consents = createConsentCache(database);
    await grantJournal(database.db, anna.userId);
    const journal = createJournalWriter(database.db, { outbox: false });
    await journalOwnOpen(
      { journal, consents, logger: deps.logger, requestId: "req-2" },
      {
        userId: anna.userId,
        deviceId: "NOT A DEVICE",
        callId: "call_2",
        at: "2031-02-01T08:00:00.000Z",
      },
    );
    expect(lines("could not journal the resident's open")).toHaveLength(1);
  });
});
