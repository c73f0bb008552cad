import { afterAll, afterEach, describe, expect, test } from "bun:test";
import {
  appendJournal,
  claimDueWebhooks,
  grantConsent,
  listWebhookOutbox,
} from "@propgate/consent-audit";
import { ageWebhookMessage, createTestDatabase } from "@propgate/consent-audit/testing";
import type { PartnerEventType } from "@propgate/domain";
import {
  type EventsWebhookWorker,
  startEventsWebhookWorker,
} from "../src/events-webhook/worker.ts";
import { eventually } from "./fixtures/eventually.ts";
import { observed } from "./fixtures/observed.ts";
import { startWebhookReceiver, testWebhookSecret } from "./fixtures/webhook-receiver.ts";

/**
 * The outbox worker on a real database against a real listener that verifies each delivery
 * with the `standardwebhooks` library: back-off after a 503, each resident's events in order,
 * `call.incoming` first, and a lease held by another instance left alone.
 */
const database = await createTestDatabase();
const { db } = database;
const secret = testWebhookSecret();
const receiver = startWebhookReceiver(secret);
const workers: EventsWebhookWorker[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  receiver.answer(() => 204);
  // Each test ends with its events delivered: the next one starts on an outbox with none due.
  receiver.received.length = 0;
});
afterAll(async () => {
  receiver.stop();
  await database.close();
});

function startWorker(
  options: { batch?: number; baseRetrySeconds?: number; orderHoldSeconds?: number } = {},
) {
  const seen = observed();
  const worker = startEventsWebhookWorker(
    { database, metrics: seen.metrics, logger: seen.logger },
    {
      url: receiver.url,
      secret,
      // The timer stays out of the way: each test runs the passes itself.
      intervalMs: 3_600_000,
      timeoutMs: 2000,
      overdueSeconds: 300,
      orderHoldSeconds: options.orderHoldSeconds ?? 3600,
      retry: { baseRetrySeconds: options.baseRetrySeconds ?? 1, maxRetrySeconds: 4 },
      batch: options.batch ?? 50,
    },
  );
  workers.push(worker);
  return { worker, seen };
}

let users = 0;
async function resident(): Promise<string> {
  const userId = `webhook-user-${process.pid}-${++users}`;
  await grantConsent(
    db,
    { userId, purpose: "journal", noticeVersion: 1, channel: "app", method: "in_app_checkbox" },
    { sourceApp: "api", instanceId: "api-test", actor: userId },
  );
  return userId;
}

async function queue(userId: string, kind: PartnerEventType): Promise<string> {
  const [entry] = await db.transaction((tx) =>
    appendJournal(
      tx,
      {
        kind,
        deviceId: "panel-1",
        cameraId: kind === "call.incoming" ? "camera-1" : null,
        unitId: "42",
        method: kind === "access.granted" ? "key" : null,
        occurredAt: new Date(),
        sourceEventId: `evt-${crypto.randomUUID()}`,
      },
      [userId],
      { outbox: true },
    ),
  );
  if (!entry) throw new Error("nothing journaled: is journal consent granted?");
  return entry.id;
}

/** The journal entry ids the receiver accepted for `userId`, in arrival order. */
const acceptedFor = (userId: string) =>
  receiver
    .accepted()
    .filter((delivery) => delivery.body?.data.userId === userId)
    .map((delivery) => delivery.body?.data.id);

describe("the webhook outbox worker", () => {
  test("delivers each event once, verified by the library, and marks it delivered", async () => {
    const { worker, seen } = startWorker();
    const userId = await resident();
    const entries = [await queue(userId, "call.incoming"), await queue(userId, "call.ended")];
    expect(await worker.runOnce()).toBe(2);
    expect(receiver.received.every((delivery) => delivery.verified)).toBe(true);
    expect(acceptedFor(userId)).toEqual(entries);
    expect(await worker.runOnce()).toBe(0);
    expect(receiver.received).toHaveLength(2);
    const rows = await listWebhookOutbox(db, { userId });
    expect(rows.map((row) => row.status)).toEqual(["delivered", "delivered"]);
    expect(new Set(receiver.received.map((delivery) => delivery.id))).toEqual(
      new Set(rows.map((row) => row.id)),
    );
    expect(
      await seen.metric("propgate_events_webhook_deliveries_total", { result: "delivered" }),
    ).toBe(2);
    expect(await seen.metric("propgate_events_webhook_pending")).toBe(0);
  });

  test("a round's deliveries are marked in one statement, not a commit each", async () => {
    const { worker, seen } = startWorker();
    const residents = await Promise.all(Array.from({ length: 6 }, () => resident()));
    for (const userId of residents) await queue(userId, "door.opened");
    expect(await worker.runOnce()).toBe(6);
    const rows = (
      await Promise.all(residents.map((userId) => listWebhookOutbox(db, { userId })))
    ).flat();
    expect(rows.map((row) => row.status)).toEqual(Array(6).fill("delivered"));
    // `now()` is its statement's transaction's: one time for all six, one per commit before.
    expect(new Set(rows.map((row) => String(row.deliveredAt))).size).toBe(1);
    expect(
      await seen.metric("propgate_events_webhook_deliveries_total", { result: "delivered" }),
    ).toBe(6);
  });

  test("after a 503 the event waits its back-off, keeps its webhook-id, and then arrives", async () => {
    const { worker, seen } = startWorker({ baseRetrySeconds: 1 });
    const userId = await resident();
    const entry = await queue(userId, "access.granted");
    receiver.answer(() => 503);
    const failedAt = Date.now();
    expect(await worker.runOnce()).toBe(1);
    const [failed] = await listWebhookOutbox(db, { userId });
    expect(failed).toMatchObject({ status: "pending", attempts: 1, lastError: "http_503" });
    const wait = Date.parse(failed?.nextAttemptAt ?? "") - failedAt;
    expect(wait).toBeGreaterThan(500);
    expect(wait).toBeLessThan(2500);
    expect(
      await seen.metric("propgate_events_webhook_deliveries_total", { result: "http_5xx" }),
    ).toBe(1);
    expect(seen.lines("webhook delivery failed, will retry")[0]).toMatchObject({
      code: "http_503",
    });
    // Not due yet: the next pass sends nothing.
    expect(await worker.runOnce()).toBe(0);
    receiver.answer(() => 204);
    await eventually("the retry is delivered", async () => (await worker.runOnce()) === 1, 5000);
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(900);
    expect(acceptedFor(userId)).toEqual([entry]);
    const webhookId = failed?.id ?? "";
    expect(receiver.received.map((delivery) => delivery.id)).toEqual([webhookId, webhookId]);
    const [delivered] = await listWebhookOutbox(db, { userId });
    expect(delivered).toMatchObject({ status: "delivered", attempts: 1 });
  });

  test("a resident's events arrive in order: a failing one holds back the later ones", async () => {
    const { worker } = startWorker({ baseRetrySeconds: 1 });
    const alice = await resident();
    const bob = await resident();
    const aliceEntries = [
      await queue(alice, "access.granted"),
      await queue(alice, "call.incoming"),
      await queue(alice, "call.ended"),
    ];
    const bobEntry = await queue(bob, "access.denied");
    let failures = 2;
    receiver.answer(() => (failures-- > 0 ? 503 : 204));
    await eventually(
      "every event delivered",
      async () => {
        await worker.runOnce();
        return (await listWebhookOutbox(db, { status: "pending" })).length === 0;
      },
      10_000,
    );
    expect(acceptedFor(alice)).toEqual(aliceEntries);
    expect(acceptedFor(bob)).toEqual([bobEntry]);
    // Alice's second event was never sent before her first was delivered.
    const aliceOrder = receiver.received
      .filter((delivery) => delivery.verified && delivery.body?.data.userId === alice)
      .map((delivery) => delivery.body?.data.id);
    const firstDelivered = aliceOrder.lastIndexOf(aliceEntries[0]);
    expect(aliceOrder.indexOf(aliceEntries[1])).toBeGreaterThan(firstDelivered);
  });

  test("a message failing past the order hold stops holding back its resident's later ones", async () => {
    const { worker } = startWorker({ orderHoldSeconds: 60 });
    const userId = await resident();
    const poison = await queue(userId, "access.granted");
    const ring = await queue(userId, "call.incoming");
    // tenant-core refuses the first message whatever happens (a bug on its side).
    receiver.answer((body) => (body.data.id === poison ? 400 : 204));
    await worker.runOnce();
    expect(acceptedFor(userId)).toEqual([]);
    // Queued over a minute ago: it no longer holds the ring back, and is still retried.
    await ageWebhookMessage(db, poison, 120);
    await worker.runOnce();
    expect(acceptedFor(userId)).toEqual([ring]);
    const pending = await listWebhookOutbox(db, { status: "pending" });
    expect(pending.map((row) => row.lastError)).toEqual(["http_400"]);
    // Fixed on tenant-core's side: the old message goes out at its next attempt.
    receiver.answer(() => 204);
    await ageWebhookMessage(db, poison, 120);
    await worker.runOnce();
    expect(acceptedFor(userId)).toEqual([ring, poison]);
  });

  test("call.incoming goes before the events queued ahead of it", async () => {
    const { worker } = startWorker({ batch: 1 });
    const others = [await resident(), await resident(), await resident()];
    for (const userId of others) await queue(userId, "access.granted");
    const caller = await resident();
    const ring = await queue(caller, "call.incoming");
    expect(await worker.runOnce()).toBe(4);
    expect(receiver.accepted()[0]?.body).toMatchObject({
      type: "call.incoming",
      data: { id: ring, userId: caller, cameraId: "camera-1", unitId: "42" },
    });
  });

  test("a message leased by another instance is not taken until its lease ends", async () => {
    const { worker } = startWorker();
    const userId = await resident();
    const held = await queue(userId, "call.incoming");
    const later = await queue(userId, "call.ended");
    // Another instance claims the first (its lease: 2 s) and has not finished sending it.
    const [claimed] = await claimDueWebhooks(db, {
      limit: 1,
      leaseSeconds: 2,
      orderHoldSeconds: 3600,
    });
    expect(claimed?.userId).toBe(userId);
    expect(await worker.runOnce()).toBe(0);
    expect(receiver.received).toHaveLength(0);
    // That instance died: once the lease ends, this one sends both, in order.
    await eventually("the lease ends and both are sent", async () => {
      await worker.runOnce();
      return receiver.accepted().length === 2;
    });
    expect(acceptedFor(userId)).toEqual([held, later]);
  });

  test("two workers on one outbox never send a message twice", async () => {
    const first = startWorker({ batch: 5 });
    const second = startWorker({ batch: 5 });
    const residents = await Promise.all(Array.from({ length: 10 }, () => resident()));
    for (const userId of residents) {
      await queue(userId, "access.granted");
      await queue(userId, "call.ended");
    }
    const [a, b] = await Promise.all([first.worker.runOnce(), second.worker.runOnce()]);
    await first.worker.runOnce();
    expect((a ?? 0) + (b ?? 0)).toBeLessThanOrEqual(20);
    expect(receiver.accepted()).toHaveLength(20);
    expect(new Set(receiver.received.map((delivery) => delivery.id)).size).toBe(20);
  });
});
