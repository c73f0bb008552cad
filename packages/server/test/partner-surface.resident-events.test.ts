import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  confirmUnits,
  countAuditEvents,
  listJournal,
  upsertUnits,
  webhookOutboxStats,
} from "@propgate/consent-audit";
import { CLIENTS, type SurfaceRig, startSurfaceRig } from "./partner-surface-rig.ts";

/**
 * Partner events reaching residents: a call to a flat lands in the journal of its residents who
 * hold `journal` consent, an entry naming a subject in that resident's; a retried `eventId` is
 * one event. Everything else about the route is in partner-surface.events.test.ts.
 */

let rig: SurfaceRig;
let token: string;
/** Residents of unit 42 (with and without `journal`), of unit 43, and one known by a subject. */
const people = { inFlat: "", noConsent: "", nextDoor: "", driver: "" };

beforeAll(async () => {
  rig = await startSurfaceRig();
  token = await rig.tokenFor(CLIENTS.intercom);
  await upsertUnits(
    rig.database.db,
    [
      { id: "unit-42", partner: "intercom", partnerUnitId: "42", siteId: "site-a" },
      { id: "unit-43", partner: "intercom", partnerUnitId: "43", siteId: "site-a" },
    ],
    { sourceApp: "cli", instanceId: "test", actor: "operator:test" },
  );
  people.inFlat = await rig.resident(["site-a"], ["journal"]);
  people.noConsent = await rig.resident(["site-a"], []);
  people.nextDoor = await rig.resident(["site-a"], ["journal"]);
  people.driver = await rig.resident(["site-a"], ["journal", "barrier", "plates"]);
  await confirmUnits(rig.database.db, people.inFlat, ["unit-42"]);
  await confirmUnits(rig.database.db, people.noConsent, ["unit-42"]);
  await confirmUnits(rig.database.db, people.nextDoor, ["unit-43"]);
});
afterAll(() => rig?.close());

const postEvent = (body: unknown, as = token) => rig.postJson("/partner/v1/events", as, body);
const journalOf = async (userId: string) => (await listJournal(rig.database.db, userId)).entries;

describe("partner events in residents' journals", () => {
  test("call.incoming for unit 42: its resident with journal consent has it, with our device, camera and unit; nobody else", async () => {
    const at = "2026-12-07T09:32:00+03:00";
    const ring = {
      type: "call.incoming",
      eventId: `ring-${crypto.randomUUID()}`,
      deviceId: "ic-a1",
      unitId: "42",
      cameraId: "cam-a1",
      at,
    };
    const answer = await postEvent(ring);
    expect(answer.status).toBe(202);
    expect(await journalOf(people.inFlat)).toEqual([
      expect.objectContaining({
        kind: "call.incoming",
        deviceId: "door-a1",
        cameraId: "cam-a1",
        unitId: "unit-42",
        method: null,
        outcome: null,
        occurredAt: new Date(at).toISOString(),
        sourceEventId: answer.json.eventId,
      }),
    ]);
    expect(await journalOf(people.noConsent)).toEqual([]); // no consent: nothing kept…
    expect(await rig.auditRowFor(answer)).toMatchObject({ operation: "call.incoming" }); // …but audited
    expect(await journalOf(people.nextDoor)).toEqual([]);

    const ended = await postEvent({
      type: "call.ended",
      eventId: `end-${crypto.randomUUID()}`,
      deviceId: "ic-a1",
      unitId: "42",
      outcome: "missed",
      durationSeconds: 31,
      callEventId: ring.eventId,
      at: new Date().toISOString(),
    });
    expect(ended.status).toBe(202);
    const [latest] = await journalOf(people.inFlat);
    expect(latest).toMatchObject({
      kind: "call.ended",
      unitId: "unit-42",
      outcome: "missed",
      durationSeconds: 31,
      cameraId: null,
    });
    expect(await journalOf(people.nextDoor)).toEqual([]);
  });

  test("a call to a flat Propgate has no unit for is audited and journaled for no one", async () => {
    const answer = await postEvent({
      type: "call.incoming",
      eventId: `ring-${crypto.randomUUID()}`,
      deviceId: "ic-a1",
      unitId: "99",
      at: new Date().toISOString(),
    });
    expect(answer.status).toBe(202);
    expect(await rig.auditRowFor(answer)).toMatchObject({ result: "accepted" });
    for (const userId of Object.values(people))
      expect((await journalOf(userId)).map((entry) => entry.sourceEventId)).not.toContain(
        answer.json.eventId,
      );
  });

  test("access.granted by plate naming a subject lands in that resident's journal, without the subject", async () => {
    const barrier = await rig.tokenFor(CLIENTS.barrier);
    const subject = rig.subjectAt("barrier", people.driver);
    const answer = await postEvent(
      {
        type: "access.granted",
        eventId: `gate-${crypto.randomUUID()}`,
        deviceId: "bar-a",
        method: "plate",
        subject,
        at: new Date().toISOString(),
      },
      barrier,
    );
    expect(answer.status).toBe(202);
    const entries = await journalOf(people.driver);
    expect(entries).toEqual([
      expect.objectContaining({
        kind: "access.granted",
        deviceId: "gate-a",
        method: "plate",
        unitId: null,
        sourceEventId: answer.json.eventId,
      }),
    ]);
    expect(JSON.stringify(entries)).not.toContain(subject);
    // the intercom's pseudonym of the same resident is another subject: the barrier's is not it
    const other = await postEvent({
      type: "access.denied",
      eventId: `door-${crypto.randomUUID()}`,
      deviceId: "ic-a1",
      method: "face",
      subject,
      at: new Date().toISOString(),
    });
    expect(other.status).toBe(202);
    expect(await journalOf(people.driver)).toHaveLength(1);
  });

  test("a retried eventId answers 202 with the first eventId and writes nothing new", async () => {
    const ring = {
      type: "call.incoming",
      eventId: `ring-${crypto.randomUUID()}`,
      deviceId: "ic-a2",
      unitId: "42",
      at: new Date().toISOString(),
    };
    const first = await postEvent(ring);
    expect(first.status).toBe(202);
    const journal = await journalOf(people.inFlat);
    const rows = await countAuditEvents(rig.database.db);
    const counted = await rig.metric("propgate_partner_events_total", { type: "call.incoming" });
    for (let retry = 0; retry < 2; retry++) {
      const again = await postEvent(ring);
      expect({ status: again.status, json: again.json }).toEqual({
        status: 202,
        json: { status: "accepted", eventId: first.json.eventId },
      });
    }
    // concurrent retries too: one event
    const racing = await Promise.all([1, 2, 3].map(() => postEvent(ring)));
    expect(racing.map((answer) => answer.json.eventId)).toEqual(
      [1, 2, 3].map(() => first.json.eventId),
    );
    expect(await journalOf(people.inFlat)).toEqual(journal);
    expect(await countAuditEvents(rig.database.db)).toBe(rows);
    expect(await rig.metric("propgate_partner_events_total", { type: "call.incoming" })).toBe(
      counted,
    );
    // the same id from the other partner is another event
    const barrier = await rig.tokenFor(CLIENTS.barrier);
    const theirs = await postEvent({ ...ring, deviceId: "bar-a" }, barrier);
    expect(theirs.status).toBe(202);
    expect(theirs.json.eventId).not.toBe(first.json.eventId);
  });

  test("with the webhook relay on, each journal entry is queued for it too; off, none is", async () => {
    const pending = async () =>
      (await webhookOutboxStats(rig.database.db, { overdueSeconds: 60 })).pending;
    const ring = () => ({
      type: "call.incoming",
      eventId: `ring-${crypto.randomUUID()}`,
      deviceId: "ic-a1",
      unitId: "42",
      at: new Date().toISOString(),
    });
    const before = await pending();
    expect((await postEvent(ring())).status).toBe(202); // the rig's surface: relay off
    expect(await pending()).toBe(before);

    const relayed = rig.surface({ webhookOutbox: true });
    const withRelay = await relayed.tokenFor(CLIENTS.intercom);
    const answer = await relayed.postJson("/partner/v1/events", withRelay, ring());
    expect(answer.status).toBe(202);
    expect(await pending()).toBe(before + 1); // one resident of unit 42 holds journal consent
  });
});
