import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  errorOf,
  grant,
  HIGH_RATE_LIMITS,
  type Instance,
  type Resident,
  startInstance,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";

const TIMEOUT_MS = 1500;
let stack: TestStack;
let resident: Resident;

beforeAll(async () => {
  stack = await startTestStack({
    partnerTimeoutMs: TIMEOUT_MS,
    // a breaker that trips only when a test means it to, and short token back-off
    tuning: { breakerThreshold: 50, breakerHalfOpenAfterMs: 500, tokenBackoffInitialMs: 100 },
  });
  resident = await stack.resident("user-resilience");
  await grant(resident, ["intercom", "barrier"]);
});
afterAll(() => stack.close());
beforeEach(() => {
  stack.sims.intercom.faults.reset();
  stack.sims.intercom.recorder.clear();
});

const sim = () => stack.sims.intercom;
const openDoor = () => resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
const apiRequests = () =>
  sim()
    .recorder.all()
    .filter((r) => r.operation === "intercom.open");
const tokenRequests = () =>
  sim()
    .recorder.all()
    .filter((r) => r.operation === "token");

/** A resident with intercom consent, calling `instance` (a fresh api beside the stack's). */
async function residentOn(instance: Instance, sub: string) {
  const resident = await stack.resident(sub);
  await grant(resident, ["intercom"]);
  return { ...resident, trpc: instance.client(resident.token) };
}

/** Polls `check` until it passes or the deadline ends; the last failure is rethrown. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe("partner errors", () => {
  test("429 with Retry-After: waits that long, retries, succeeds", async () => {
    sim().faults.set({ failNext: 1, errorStatus: 429, retryAfterSeconds: 1 });
    const result = await openDoor();
    expect(result.status).toBe("opened");
    const [first, second] = apiRequests();
    expect(first?.status).toBe(429);
    expect(second?.status).toBe(200);
    expect(Date.parse(second?.at ?? "") - Date.parse(first?.at ?? "")).toBeGreaterThanOrEqual(950);
  });

  test("429 with a Retry-After beyond the cap: no retry, PARTNER_UNAVAILABLE carrying it", async () => {
    sim().faults.set({ failNext: 1, errorStatus: 429, retryAfterSeconds: 30 });
    const error = await errorOf(openDoor());
    expect(error).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      httpStatus: 503,
      cause: "PARTNER_UNAVAILABLE",
    });
    expect(error.data.cause?.retryAfterSeconds).toBe(30);
    expect(apiRequests()).toHaveLength(1);
  });

  test("503 is retried, at most 3 attempts, then PARTNER_UNAVAILABLE", async () => {
    sim().faults.set({ failNext: 10, errorStatus: 503 });
    const error = await errorOf(openDoor());
    expect(error.cause).toBe("PARTNER_UNAVAILABLE");
    expect(apiRequests()).toHaveLength(3);
    sim().faults.reset();
    sim().faults.set({ failNext: 2, errorStatus: 503 });
    expect((await openDoor()).status).toBe("opened");
  });

  test("a non-JSON answer → PARTNER_PROTOCOL_ERROR", async () => {
    sim().faults.set({ responseMode: "non-json" });
    const error = await errorOf(openDoor());
    expect(error).toMatchObject({ code: "BAD_GATEWAY", cause: "PARTNER_PROTOCOL_ERROR" });
  });

  test("a schema-violating answer → PARTNER_PROTOCOL_ERROR", async () => {
    sim().faults.set({ responseMode: "bad-schema" });
    const error = await errorOf(openDoor());
    expect(error.cause).toBe("PARTNER_PROTOCOL_ERROR");
  });

  test("a hung partner → PARTNER_UNAVAILABLE within the configured timeout", async () => {
    sim().faults.set({ responseMode: "hang" });
    const started = performance.now();
    const error = await errorOf(openDoor());
    const elapsed = performance.now() - started;
    expect(error.cause).toBe("PARTNER_UNAVAILABLE");
    expect(error.message).toBe("the partner service is unavailable, try again later");
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000);
  });

  test("every attempt, failed or not, has its audit row", async () => {
    sim().faults.set({ failNext: 2, errorStatus: 503 });
    const { countAuditEvents } = await import("@propgate/consent-audit");
    const before = await countAuditEvents(stack.database.db, { kind: "partner.request" });
    await openDoor();
    const after = await countAuditEvents(stack.database.db, { kind: "partner.request" });
    expect(after - before).toBe(apiRequests().length);
    expect(apiRequests()).toHaveLength(3);
  });
});

describe("circuit breaker", () => {
  test("opens after consecutive failures, fails fast without calling, closes after recovery", async () => {
    // A fresh instance: its own breaker, tripping after 3 failures.
    const local = await startInstance(
      stack,
      "api-breaker",
      {},
      { tuning: { breakerThreshold: 3, breakerHalfOpenAfterMs: 300, maxAttempts: 1 } },
    );
    try {
      const user = await residentOn(local, "user-breaker");
      const partner = sim();
      partner.faults.set({ failNext: 100, errorStatus: 500 });
      for (let i = 0; i < 3; i++)
        expect(
          (await errorOf(user.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }))).cause,
        ).toBe("PARTNER_UNAVAILABLE");
      const sent = partner.recorder.count({ operation: "intercom.open" });
      const fast = await errorOf(user.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }));
      expect(fast.cause).toBe("PARTNER_UNAVAILABLE");
      expect(partner.recorder.count({ operation: "intercom.open" })).toBe(sent);
      expect(await (await fetch(`${local.metrics?.url}/metrics`)).text()).toContain(
        'propgate_partner_circuit_open{partner="intercom",app="api"} 1',
      );
      partner.faults.reset();
      await eventually(() => user.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    } finally {
      await local.stop();
    }
  });
});

describe("tokens", () => {
  test("1,000 concurrent opens with a cold token cache cause exactly one token request", async () => {
    // A fresh instance: a cold token cache.
    const local = await startInstance(stack, "api-thousand", HIGH_RATE_LIMITS);
    try {
      const user = await residentOn(local, "user-thousand");
      const burst = Bun.spawn(
        [
          process.execPath,
          `${import.meta.dir}/fixtures/open-burst.ts`,
          local.api.url,
          user.token,
          "door-a1",
          "1000",
        ],
        {
          stdout: "pipe",
          stderr: "inherit",
        },
      );
      const tally = JSON.parse(await new Response(burst.stdout).text());
      expect(await burst.exited).toBe(0);
      expect(tally).toEqual({ opened: 1000 });
      expect(sim().recorder.count({ operation: "token" })).toBe(1);
      expect(sim().recorder.count({ operation: "intercom.open" })).toBe(1000);
    } finally {
      await local.stop();
    }
  }, 120_000);

  test("a token that expires mid-run is refreshed before expiry: no 401 reaches anyone", async () => {
    const local = await startInstance(stack, "api-refresh", HIGH_RATE_LIMITS);
    try {
      const user = await residentOn(local, "user-refresh");
      sim().faults.set({ tokenLifetimeSeconds: 3 });
      const until = Date.now() + 5000;
      let opened = 0;
      while (Date.now() < until) {
        await Promise.all(
          Array.from({ length: 5 }, () =>
            user.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }),
          ),
        );
        opened += 5;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const records = sim().recorder.all();
      expect(records.filter((r) => r.operation === "token").length).toBeGreaterThanOrEqual(3);
      expect(records.filter((r) => r.status === 401)).toHaveLength(0);
      expect(
        records.filter((r) => r.operation === "intercom.open" && r.status === 200),
      ).toHaveLength(opened);
    } finally {
      await local.stop();
    }
  }, 30_000);

  test("token endpoint down: the cached token is used until expiry, then PARTNER_UNAVAILABLE fast; recovery needs no restart", async () => {
    const local = await startInstance(
      stack,
      "api-token-down",
      {},
      { tuning: { tokenBackoffInitialMs: 200 } },
    );
    try {
      const user = await residentOn(local, "user-token-down");
      const partner = sim();
      partner.faults.set({ tokenLifetimeSeconds: 2 });
      await user.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }); // caches a 2 s token
      const firstToken = partner.recorder
        .all()
        .find((r) => r.operation === "intercom.open")?.tokenClaims;
      partner.faults.set({ tokenEndpointDown: true });
      // still valid: served from the cache while refreshes fail
      expect((await user.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" })).status).toBe(
        "opened",
      );
      const expiresAtMs = Number(firstToken?.exp) * 1000;
      await eventually(async () => {
        if (Date.now() < expiresAtMs) throw new Error("token not expired yet");
      }, 5000);
      const callsBefore = partner.recorder.count({ operation: "intercom.open" });
      const started = performance.now();
      const error = await errorOf(user.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }));
      expect(error.cause).toBe("PARTNER_UNAVAILABLE");
      expect(performance.now() - started).toBeLessThan(1000);
      expect(partner.recorder.count({ operation: "intercom.open" })).toBe(callsBefore);
      partner.faults.set({ tokenEndpointDown: false });
      const result = await eventually(() =>
        user.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }),
      );
      expect(result.status).toBe("opened");
    } finally {
      await local.stop();
    }
  }, 30_000);
});

describe("a 401 from the partner", () => {
  test("one forced token refresh and one replay, invisible to the resident", async () => {
    const tokensBefore = tokenRequests().length;
    sim().faults.set({ rejectTokensNext: 1 });
    expect((await openDoor()).status).toBe("opened");
    const [refused, replayed] = apiRequests();
    expect(refused?.status).toBe(401);
    expect(replayed?.status).toBe(200);
    expect(replayed?.tokenClaims?.jti).not.toBe(refused?.tokenClaims?.jti);
    expect(tokenRequests().length - tokensBefore).toBe(1);
  });

  test("a second 401 in a row is not replayed again: PARTNER_UNAVAILABLE", async () => {
    sim().faults.set({ rejectTokensNext: 5 });
    const error = await errorOf(openDoor());
    expect(error.cause).toBe("PARTNER_UNAVAILABLE");
    expect(apiRequests()).toHaveLength(2);
  });
});
