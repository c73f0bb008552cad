import { afterAll, describe, expect, test } from "bun:test";
import { appendJournal, grantConsent, listJournal } from "@propgate/consent-audit";
import { ageJournalEntry, createTestDatabase } from "@propgate/consent-audit/testing";
import { startJournalPruner } from "../src/events/journal-pruner.ts";
import { observed } from "./fixtures/observed.ts";

const database = await createTestDatabase();
afterAll(() => database.close());

async function residentWithEntries(count: number): Promise<{ userId: string; ids: string[] }> {
  const userId = `pruned-${crypto.randomUUID()}`;
  await grantConsent(
    database.db,
    { userId, purpose: "journal", noticeVersion: 1, channel: "app", method: "in_app_checkbox" },
    { sourceApp: "api", instanceId: "api-test", actor: userId },
  );
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const [entry] = await database.db.transaction((tx) =>
      appendJournal(
        tx,
        {
          kind: "access.granted",
          deviceId: "door-a1",
          cameraId: null,
          unitId: null,
          method: "key",
          occurredAt: new Date(),
          sourceEventId: `evt-${crypto.randomUUID()}`,
        },
        [userId],
        { outbox: false },
      ),
    );
    if (!entry) throw new Error("nothing journaled");
    ids.push(entry.id);
  }
  return { userId, ids };
}

describe("the journal's retention pass", () => {
  test("deletes entries recorded longer ago than JOURNAL_RETENTION_DAYS, and only those", async () => {
    const { userId, ids } = await residentWithEntries(4);
    const [oldest, old, recent, fresh] = ids;
    if (!oldest || !old || !recent || !fresh) throw new Error("four entries expected");
    await ageJournalEntry(database.db, oldest, 200);
    await ageJournalEntry(database.db, old, 91);
    await ageJournalEntry(database.db, recent, 89);
    const seen = observed();
    // The timer stays out of the way: the test runs the pass itself.
    const longer = startJournalPruner(
      { database, logger: seen.logger },
      { retentionDays: 365, intervalMs: 3_600_000 },
    );
    expect(await longer.runOnce()).toBe(0);
    await longer.stop();
    const pruner = startJournalPruner(
      { database, logger: seen.logger },
      { retentionDays: 90, intervalMs: 3_600_000, batch: 1 },
    );
    expect(await pruner.runOnce()).toBe(2);
    await pruner.stop();
    const kept = (await listJournal(database.db, userId)).entries.map((entry) => entry.id);
    expect(kept.sort()).toEqual([fresh, recent].sort());
  });
});
