import { afterAll, describe, expect, test } from "bun:test";
import {
  type AppDeps,
  appRouter,
  createJournalEvents,
  type Principal,
  type ResidentEvent,
  ServiceUnavailableError,
} from "@propgate/api";
import { DomainError } from "@propgate/domain";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { createPropgateClient } from "../src/index.ts";

/**
 * `client.events.onEvent` against the api's real router and event hub over a real HTTP server
 * (Server-Sent Events), the journal in memory: what a resident's app receives.
 */

const residents: Record<string, Principal> = {
  anna: { userId: "resident-anna", sites: ["site-a"], units: [], adminRole: null },
  boris: { userId: "resident-boris", sites: ["site-a"], units: [], adminRole: null },
  petr: { userId: "resident-petr", sites: ["site-a"], units: [], adminRole: null },
};
const consented = new Set(["resident-anna", "resident-boris"]);
const rows: Array<ResidentEvent & { userId: string }> = [];

const journalEvents = createJournalEvents(
  {
    readSince: async (userId, afterSeq, limit) =>
      rows.filter((row) => row.userId === userId && row.seq > afterSeq).slice(0, limit),
    latestSeq: async (userId) =>
      Math.max(0, ...rows.filter((row) => row.userId === userId).map((row) => row.seq)),
    consented: async (userId) => consented.has(userId),
  },
  { maxStreamsPerResident: 2, maxStreams: 100 },
);

/** What a revocation of `journal` ends the resident's streams with (background.ts). */
class JournalRevoked extends DomainError {
  readonly code = "CONSENT_REQUIRED" as const;
}

/** A journal entry committed and announced, as the journal's NOTIFY does. */
let seq = 0;
function append(userId: string, kind: ResidentEvent["kind"] = "call.incoming"): number {
  seq += 1;
  rows.push({
    userId,
    id: `jrn_${String(seq).padStart(20, "0")}`,
    seq,
    kind,
    deviceId: "door-a1",
    cameraId: kind === "call.incoming" ? "cam-a1" : null,
    unitId: "unit-42",
    method: null,
    outcome: null,
    durationSeconds: null,
    occurredAt: new Date().toISOString(),
  });
  journalEvents.hub.notify({ userId, seq });
  return seq;
}

/** The few services `events.onEvent` and the resident middleware use; the rest throws. */
const deps = new Proxy(
  {
    settings: { instanceId: "test" },
    verifier: {
      async verify(authorization: string | null) {
        const principal = residents[authorization?.replace(/^Bearer /, "") ?? ""];
        if (!principal) throw new Error("no such test token");
        return principal;
      },
    },
    rateLimits: {
      backend: "memory",
      consume: async (limit: string) => ({
        limit,
        allowed: true,
        quota: 1000,
        windowSeconds: 60,
        remaining: 999,
        resetSeconds: 60,
      }),
    },
    subjects: { confirmSites: async () => {} },
    units: { confirm: async () => {} },
    journalEvents,
    // Untraced: the token check's span helper runs its work directly.
    tracing: {
      leaf: (_name: string, _attributes: unknown, work: () => unknown) => work(),
      traceId: () => null,
    },
  },
  {
    get(target, property) {
      if (property in target) return target[property as keyof typeof target];
      throw new Error(`deps.${String(property)} is not used here`);
    },
  },
) as unknown as AppDeps;

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (request) =>
    fetchRequestHandler({
      endpoint: "/trpc",
      req: request,
      router: appRouter,
      createContext: () => ({
        deps,
        requestId: "req_test",
        clientIp: null,
        clientAddress: null,
        authorization: request.headers.get("authorization"),
        responseHeaders: new Headers(),
      }),
    }),
});
afterAll(() => server.stop(true));

const clientOf = (token: string) =>
  createPropgateClient({ url: `http://127.0.0.1:${server.port}`, getToken: () => token });

/** Subscribes as the resident; `received` fills as events arrive, `ended` with the error. */
function subscribe(token: string, input: { lastEventId?: string } = {}) {
  const received: Array<{ id: string; data: ResidentEvent }> = [];
  let started = false;
  let error: unknown = null;
  const subscription = clientOf(token).events.onEvent.subscribe(input, {
    onStarted: () => {
      started = true;
    },
    onData: (event) => received.push(event),
    onError: (caught) => {
      error = caught;
    },
  });
  return {
    received,
    seqs: () => received.map((event) => event.data.seq),
    get started() {
      return started;
    },
    get error() {
      return error as { data?: { cause?: { code?: string } } } | null;
    },
    stop: () => subscription.unsubscribe(),
  };
}

async function until(check: () => boolean, what: string, ms = 1000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await Bun.sleep(5);
  }
}
/** The streams the hub holds for a resident's subscriptions to be listening. */
const listening = (count: number) => until(() => journalEvents.hub.openStreams === count, "open");

describe("client.events.onEvent", () => {
  test("an entry reaches its resident within a second, with its camera; no one else", async () => {
    const anna = subscribe("anna");
    const boris = subscribe("boris");
    await until(() => anna.started && boris.started, "both started");
    await listening(2);
    const sent = append("resident-anna");
    await until(() => anna.received.length === 1, "anna's event", 1000);
    expect(anna.received[0]).toMatchObject({
      id: String(sent),
      data: { seq: sent, kind: "call.incoming", cameraId: "cam-a1", deviceId: "door-a1" },
    });
    expect(anna.received[0]?.data).not.toHaveProperty("userId");
    await Bun.sleep(100);
    expect(boris.received).toEqual([]);
    anna.stop();
    boris.stop();
    await listening(0);
  });

  test("Last-Event-ID resumes with what was missed, and nothing twice", async () => {
    const first = append("resident-boris", "access.granted");
    const missed = [append("resident-boris"), append("resident-boris", "call.ended")];
    const boris = subscribe("boris", { lastEventId: String(first) });
    await until(() => boris.received.length === 2, "the missed entries");
    await listening(1);
    const live = append("resident-boris");
    await until(() => boris.received.length === 3, "the live entry");
    await Bun.sleep(100);
    expect(boris.seqs()).toEqual([...missed, live]);
    boris.stop();
    await listening(0);
  });

  test("without journal consent the stream ends at once with CONSENT_REQUIRED", async () => {
    const petr = subscribe("petr");
    await until(() => petr.error !== null, "the refusal");
    expect(petr.error?.data?.cause?.code).toBe("CONSENT_REQUIRED");
    expect(journalEvents.hub.openStreams).toBe(0);
  });

  test("a revocation ends the stream; more streams than allowed are refused", async () => {
    const streams = [subscribe("anna"), subscribe("anna")];
    await listening(2);
    const third = subscribe("anna");
    await until(() => third.error !== null, "the third refused");
    expect(third.error?.data?.cause?.code).toBe("RATE_LIMITED");
    journalEvents.hub.endResident("resident-anna", new JournalRevoked("revoked"));
    for (const stream of streams) {
      await until(() => stream.error !== null, "the stream ended");
      expect(stream.error?.data?.cause?.code).toBe("CONSENT_REQUIRED");
    }
    await listening(0);
  });

  test("an instance that stops ends its streams so the listener can drain", async () => {
    const boris = subscribe("boris");
    await listening(1);
    journalEvents.hub.close(new ServiceUnavailableError("stopping", 1));
    await listening(0);
    // UNAVAILABLE is retryable: the client reconnects (and is refused here, this hub stays shut).
    await Bun.sleep(50);
    expect(boris.error).toBeNull();
    boris.stop();
  });
});
