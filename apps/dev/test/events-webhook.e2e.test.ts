import { afterAll, beforeAll, expect, test } from "bun:test";
import { appendJournal, listWebhookOutbox } from "@propgate/consent-audit";
import type { PartnerEventType } from "@propgate/domain";
import { Webhook } from "standardwebhooks";
import {
  type Instance,
  startInstance,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";

/**
 * Issue 26's acceptance: tenant-core's receiver is down for 30 s and the api restarts meanwhile;
 * once it is back every event arrives exactly once, in order per resident, each verified by the
 * `standardwebhooks` library.
 */
const OUTAGE_MS = 30_000;
const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
const verifier = new Webhook(secret);

interface Delivery {
  webhookId: string;
  entryId: string;
  userId: string;
}
const accepted: Delivery[] = [];
let refusedSignatures = 0;

/** tenant-core's side: verifies each delivery with the library, 204 when it holds. */
function listen(port: number) {
  return Bun.serve({
    hostname: "127.0.0.1",
    port,
    async fetch(request) {
      const raw = await request.text();
      try {
        const body = verifier.verify(raw, Object.fromEntries(request.headers.entries())) as {
          data: { id: string; userId: string };
        };
        accepted.push({
          webhookId: request.headers.get("webhook-id") ?? "",
          entryId: body.data.id,
          userId: body.data.userId,
        });
        return new Response(null, { status: 204 });
      } catch {
        refusedSignatures++;
        return new Response(null, { status: 401 });
      }
    },
  });
}

let receiver = listen(0);
const port = receiver.port ?? 0;
let stack: TestStack;
let restarted: Instance | null = null;
const WEBHOOK_ENV = {
  EVENTS_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks`,
  EVENTS_WEBHOOK_SECRET: secret,
  EVENTS_WEBHOOK_INTERVAL_MS: "200",
  EVENTS_WEBHOOK_RETRY_BASE_SECONDS: "1",
  EVENTS_WEBHOOK_RETRY_MAX_SECONDS: "2",
  EVENTS_WEBHOOK_TIMEOUT_MS: "1000",
};

beforeAll(async () => {
  stack = await startTestStack({ env: WEBHOOK_ENV });
});
afterAll(async () => {
  await restarted?.stop();
  await stack.close();
  receiver.stop(true);
});

/** Polls until `check` holds; fails naming `what` past the deadline. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await Bun.sleep(100); // a poll interval, not a wait for state
  }
}

async function residentWithJournal(sub: string) {
  const resident = await stack.resident(sub);
  const consents = await resident.trpc.consent.list.query();
  const journal = consents.find((consent) => consent.purpose === "journal");
  if (!journal) throw new Error("no journal notice");
  await resident.trpc.consent.grant.mutate({
    purpose: "journal",
    noticeVersion: journal.currentNoticeVersion,
  });
  return resident.userId;
}

/** Journals one event for `userId` with its outbox row, as the partner surface does. */
async function happen(userId: string, kind: PartnerEventType): Promise<string> {
  const [entry] = await stack.testDatabase.db.transaction((tx) =>
    appendJournal(
      tx,
      {
        kind,
        deviceId: "panel-1",
        unitId: "42",
        occurredAt: new Date(),
        sourceEventId: `evt-${crypto.randomUUID()}`,
      },
      [userId],
      { outbox: true },
    ),
  );
  if (!entry) throw new Error(`nothing journaled for ${userId}`);
  return entry.id;
}

test(
  "receiver down 30 s, api restarted meanwhile: every event arrives once, in order per resident",
  async () => {
    const residents = await Promise.all(
      ["webhook-e2e-a", "webhook-e2e-b", "webhook-e2e-c"].map(residentWithJournal),
    );
    const expected = new Map<string, string[]>(residents.map((userId) => [userId, []]));
    const kinds: PartnerEventType[] = ["call.incoming", "call.ended", "access.granted"];
    const record = async (userId: string, kind: PartnerEventType) =>
      expected.get(userId)?.push(await happen(userId, kind));

    // Up: the first events go straight through.
    for (const userId of residents) await record(userId, "call.incoming");
    await eventually("the first events delivered", async () => accepted.length === 3, 10_000);

    // Down for 30 s: events queue, attempts fail as `network` and are retried.
    receiver.stop(true);
    const downSince = Date.now();
    for (const kind of kinds) for (const userId of residents) await record(userId, kind);
    const admin = stack.client(
      await stack.issuer.mint({ sub: "admin-webhook", sites: [], admin: true }),
    );
    await eventually(
      "failed attempts recorded",
      async () => {
        const page = await admin.admin.webhookOutbox.list.query({ status: "pending" });
        return page.rows.some((row) => row.attempts > 0 && row.lastError === "network");
      },
      10_000,
    );

    // The api restarts while the receiver is still down; more events arrive on the new one.
    await stack.background.stop();
    restarted = await startInstance(stack, "api-restarted", WEBHOOK_ENV);
    for (const userId of residents) await record(userId, "call.ended");
    expect(accepted).toHaveLength(3);

    // The outage is the scenario's own clock, not a wait for state.
    await Bun.sleep(Math.max(0, OUTAGE_MS - (Date.now() - downSince)));
    expect(accepted).toHaveLength(3);
    receiver = listen(port);

    const total = [...expected.values()].reduce((sum, list) => sum + list.length, 0);
    await eventually("every event delivered", async () => accepted.length >= total, 20_000);
    await eventually(
      "the outbox empty",
      async () =>
        (await listWebhookOutbox(stack.testDatabase.db, { status: "pending" })).length === 0,
      5_000,
    );
    expect(refusedSignatures).toBe(0);
    expect(accepted).toHaveLength(total);
    expect(new Set(accepted.map((delivery) => delivery.webhookId)).size).toBe(total);
    for (const [userId, entries] of expected)
      expect(accepted.filter((d) => d.userId === userId).map((d) => d.entryId)).toEqual(entries);

    // What an admin sees: counts, and rows of ids, attempts and last error, no payload.
    const page = await admin.admin.webhookOutbox.list.query({ status: "delivered", limit: 500 });
    expect(page).toMatchObject({ configured: true, stats: { pending: 0, delivered: total } });
    expect(page.rows).toHaveLength(total);
    expect(page.rows.some((row) => row.attempts > 0 && row.lastError === "network")).toBe(true);
    for (const row of page.rows) expect(Object.keys(row)).not.toContain("payload");
  },
  { timeout: 90_000 },
);
