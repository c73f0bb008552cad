import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { type ErrorCause, trpcErrorEnvelope } from "@propgate/api";
import { TRPCClientError } from "@trpc/client";
import { createPropgateClient, type PropgateClientOptions } from "../src/index.ts";
import { failure } from "./failure.ts";

/**
 * The client against a real HTTP server on 127.0.0.1 that answers as the api does (tRPC's
 * envelopes, built by the api's own `trpcErrorEnvelope`), scripted per test.
 */
interface Received {
  at: number;
  method: string;
  procedure: string;
  authorization: string | null;
  input: unknown;
}
type Answer = { status: number; body: unknown; headers?: Record<string, string> } | "not-json";

const received: Received[] = [];
let script: Array<(request: Received) => Answer> = [];

const TRPC_CODE: Record<
  number,
  "TOO_MANY_REQUESTS" | "SERVICE_UNAVAILABLE" | "UNAUTHORIZED" | "FORBIDDEN"
> = {
  429: "TOO_MANY_REQUESTS",
  503: "SERVICE_UNAVAILABLE",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
};

function refusal(status: number, cause: ErrorCause, headers: Record<string, string> = {}): Answer {
  const code = TRPC_CODE[status];
  if (!code) throw new Error(`no tRPC code for ${status}`);
  return {
    status,
    headers,
    body: trpcErrorEnvelope({
      code,
      httpStatus: status,
      message: `refused with ${cause.code}`,
      cause,
      requestId: `req_test_${received.length}`,
    }),
  };
}
const ok = (data: unknown, headers: Record<string, string> = {}): Answer => ({
  status: 200,
  headers,
  body: { result: { data } },
});

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const url = new URL(request.url);
    const procedure = url.pathname.replace(/^\/trpc\//, "");
    const raw = request.method === "GET" ? url.searchParams.get("input") : await request.text();
    const entry: Received = {
      at: performance.now(),
      method: request.method,
      procedure,
      authorization: request.headers.get("authorization"),
      input: raw ? JSON.parse(raw) : undefined,
    };
    received.push(entry);
    const answer = (script.shift() ?? (() => ok(null)))(entry);
    if (answer === "not-json") return new Response("<html>bad gateway</html>", { status: 502 });
    return Response.json(answer.body, { status: answer.status, headers: answer.headers });
  },
});
afterAll(() => server.stop(true));
beforeEach(() => {
  received.length = 0;
  script = [];
});

function client(options: Partial<PropgateClientOptions> = {}) {
  return createPropgateClient({ url: server.url.origin, getToken: () => "token-1", ...options });
}

describe("the token", () => {
  test("every request carries Authorization: Bearer from getToken", async () => {
    script = [() => ok([{ id: "door-a1" }])];
    const devices = await client().devices.list.query();
    expect(devices).toEqual([{ id: "door-a1" }] as never);
    expect(received).toHaveLength(1);
    expect(received[0]?.method).toBe("GET");
    expect(received[0]?.procedure).toBe("devices.list");
    expect(received[0]?.authorization).toBe("Bearer token-1");
  });

  test("UNAUTHORIZED: getToken({ refresh: true }) once, and the call is sent again with the new token", async () => {
    const asked: Array<boolean | undefined> = [];
    script = [() => refusal(401, { code: "UNAUTHORIZED" }), () => ok([])];
    const result = await client({
      getToken: (options) => {
        asked.push(options?.refresh);
        return options?.refresh ? "token-2" : "token-1";
      },
    }).consent.list.query();
    expect(result).toEqual([]);
    expect(asked).toEqual([undefined, true]);
    expect(received.map((r) => r.authorization)).toEqual(["Bearer token-1", "Bearer token-2"]);
  });

  test("a mutation without an idempotency key is replayed after a 401 too (the api refused before acting)", async () => {
    script = [() => refusal(401, { code: "UNAUTHORIZED" }), () => ok([])];
    await client().consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });
    expect(received.map((r) => r.procedure)).toEqual(["consent.grant", "consent.grant"]);
  });

  test("a second UNAUTHORIZED ends the call: one refresh only", async () => {
    let refreshes = 0;
    script = [
      () => refusal(401, { code: "UNAUTHORIZED" }),
      () => refusal(401, { code: "UNAUTHORIZED" }),
    ];
    const error = await failure(
      client({
        getToken: (options) => {
          if (options?.refresh) refreshes++;
          return "stale";
        },
      }).devices.list.query(),
    );
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.httpStatus).toBe(401);
    expect(refreshes).toBe(1);
    expect(received).toHaveLength(2);
  });

  test("a null token sends no Authorization header", async () => {
    script = [
      () => refusal(401, { code: "UNAUTHORIZED" }),
      () => refusal(401, { code: "UNAUTHORIZED" }),
    ];
    await failure(client({ getToken: () => null }).devices.list.query());
    expect(received.map((r) => r.authorization)).toEqual([null, null]);
  });
});

describe("retries of safe calls after 429 and 503", () => {
  test("a query answered 429 with Retry-After: 1 is sent again once, after at least a second", async () => {
    script = [
      () => refusal(429, { code: "RATE_LIMITED", retryAfterSeconds: 1 }, { "retry-after": "1" }),
      () => ok([]),
    ];
    const started = performance.now();
    const result = await client().devices.list.query();
    const elapsed = performance.now() - started;
    expect(result).toEqual([]);
    expect(received).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect((received[1]?.at ?? 0) - (received[0]?.at ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  test("at most one retry: a second 429 ends the call with its retryAfterSeconds", async () => {
    const limited = () =>
      refusal(429, { code: "RATE_LIMITED", retryAfterSeconds: 1 }, { "retry-after": "0" });
    script = [limited, limited, limited];
    const error = await failure(client().video.listSessions.query());
    expect(received).toHaveLength(2);
    expect(error.code).toBe("RATE_LIMITED");
    expect(error.retryAfterSeconds).toBe(1);
    expect(error.httpStatus).toBe(429);
  });

  test("a Retry-After beyond the bound is not waited for", async () => {
    script = [
      () => refusal(429, { code: "RATE_LIMITED", retryAfterSeconds: 60 }, { "retry-after": "60" }),
    ];
    const started = performance.now();
    const error = await failure(client().devices.list.query());
    expect(performance.now() - started).toBeLessThan(1000);
    expect(received).toHaveLength(1);
    expect(error.retryAfterSeconds).toBe(60);
  });

  test("the bound and the number of retries are configurable", async () => {
    const unavailable = () => refusal(503, { code: "PARTNER_UNAVAILABLE" }, { "retry-after": "0" });
    script = [unavailable, unavailable, unavailable, () => ok([])];
    await client({ retry: { maxRetries: 3 } }).faces.list.query();
    expect(received).toHaveLength(4);

    script = [
      () => refusal(429, { code: "RATE_LIMITED", retryAfterSeconds: 1 }, { "retry-after": "1" }),
    ];
    received.length = 0;
    await failure(client({ retry: { maxWaitMs: 500 } }).devices.list.query());
    expect(received).toHaveLength(1);
  });

  test("a mutation without an idempotency key is never retried", async () => {
    script = [
      () => refusal(503, { code: "PARTNER_UNAVAILABLE" }, { "retry-after": "0" }),
      () => ok({ removed: true }),
    ];
    const error = await failure(client().plates.remove.mutate({ siteId: "site-a", plateId: "p1" }));
    expect(error.code).toBe("PARTNER_UNAVAILABLE");
    expect(received).toHaveLength(1);

    script = [
      () => refusal(429, { code: "RATE_LIMITED", retryAfterSeconds: 0 }, { "retry-after": "0" }),
    ];
    received.length = 0;
    await failure(client().consent.revoke.mutate({ purpose: "video" }));
    expect(received).toHaveLength(1);
  });

  test("an open gets an idempotency key of its own, and its retry reuses it", async () => {
    script = [
      () => refusal(503, { code: "PARTNER_UNAVAILABLE" }, { "retry-after": "0" }),
      () => ok({ status: "opened", eventId: "evt-1", at: new Date().toISOString() }),
    ];
    const result = await client().intercom.openDoor.mutate({ deviceId: "door-a1" });
    expect(result.eventId).toBe("evt-1");
    expect(received.map((r) => r.method)).toEqual(["POST", "POST"]);
    const [first, second] = received.map(
      (r) => r.input as { deviceId: string; idempotencyKey: string },
    );
    expect(first?.idempotencyKey).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
    expect(second).toEqual(first as never);

    // Each tap is a new open: a new key.
    script = [() => ok({ status: "opened", eventId: "evt-2", at: new Date().toISOString() })];
    await client().barrier.open.mutate({ deviceId: "gate-a" });
    const third = received[2]?.input as { idempotencyKey: string };
    expect(third.idempotencyKey).not.toBe(first?.idempotencyKey);
  });

  test("a guest key's create: every attempt asks for the same key, validFrom pinned", async () => {
    const key = {
      keyId: "key_0123456789abcdefghjk",
      siteId: "site-a",
      deviceIds: ["door-a1"],
      validFrom: new Date().toISOString(),
      validUntil: new Date(Date.now() + 3_600_000).toISOString(),
      maxUses: null,
      label: null,
      createdAt: new Date().toISOString(),
      code: "4711",
      qr: null,
    };
    script = [
      () => refusal(503, { code: "PARTNER_UNAVAILABLE" }, { "retry-after": "0" }),
      () => ok(key),
    ];
    const validUntil = key.validUntil;
    await client().keys.create.mutate({ deviceIds: ["door-a1"], validUntil });
    const [first, second] = received.map(
      (r) => r.input as { validFrom: string; idempotencyKey: string; validUntil: string },
    );
    // Without it, the server would ask the partner for "now" twice under one idempotency key.
    expect(Date.parse(first?.validFrom ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(first?.idempotencyKey).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
    expect(second).toEqual(first as never);
    // The caller's own start is kept.
    script = [() => ok(key)];
    await client().keys.create.mutate({
      deviceIds: ["door-a1"],
      validFrom: key.validFrom,
      validUntil,
    });
    expect(received[2]?.input).toMatchObject({ validFrom: key.validFrom });
  });

  test("the caller's own idempotency key is kept", async () => {
    script = [() => ok({ status: "opened", eventId: "evt-1", at: new Date().toISOString() })];
    await client().barrier.open.mutate({ deviceId: "gate-a", idempotencyKey: "tap-0001-mine" });
    expect(received[0]?.input).toEqual({ deviceId: "gate-a", idempotencyKey: "tap-0001-mine" });
  });

  test("other errors are not retried", async () => {
    script = [() => refusal(403, { code: "FORBIDDEN_DEVICE" }), () => ok(null)];
    await failure(client().devices.list.query());
    expect(received).toHaveLength(1);
  });
});

describe("errors", () => {
  test("error.data.cause becomes a PropgateError with code, message, requestId and httpStatus", async () => {
    script = [() => refusal(403, { code: "CONSENT_REQUIRED" })];
    const error = await failure(client().intercom.openDoor.mutate({ deviceId: "door-a1" }));
    expect(error).toBeInstanceOf(TRPCClientError);
    expect(error.name).toBe("PropgateError");
    expect(error.code).toBe("CONSENT_REQUIRED");
    expect(error.message).toBe("refused with CONSENT_REQUIRED");
    expect(error.requestId).toBe("req_test_1");
    expect(error.httpStatus).toBe(403);
    expect(error.retryAfterSeconds).toBeNull();
    expect(error.procedure).toBe("intercom.openDoor");
    expect(error.data?.cause?.code).toBe("CONSENT_REQUIRED");
  });

  test("no answer at all is NETWORK_ERROR, not retried", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const url = closed.url.origin;
    await closed.stop(true);
    const error = await failure(
      createPropgateClient({ url, getToken: () => "t" }).devices.list.query(),
    );
    expect(error.code).toBe("NETWORK_ERROR");
    expect(error.httpStatus).toBeNull();
  });

  test("an answer that is not the api's JSON (a proxy's error page) is NETWORK_ERROR", async () => {
    script = [() => "not-json"];
    const error = await failure(client().devices.list.query());
    expect(error.code).toBe("NETWORK_ERROR");
    expect(received).toHaveLength(1);
  });
});

describe("rate limits", () => {
  test("the RateLimit fields of the last answer are parsed and exposed", async () => {
    const seen: unknown[] = [];
    const propgate = client({ onRateLimit: (state) => seen.push(state) });
    expect(propgate.$rateLimit).toBeNull();
    script = [
      () =>
        ok([], {
          "ratelimit-policy": '"resident";q=120;w=60, "ip";q=600;w=60',
          ratelimit: '"resident";r=119;t=60, "ip";r=599;t=42',
        }),
      () =>
        refusal(
          429,
          { code: "RATE_LIMITED", retryAfterSeconds: 30 },
          {
            "ratelimit-policy": '"open";q=10;w=60',
            ratelimit: '"open";r=0;t=30',
            "retry-after": "30",
          },
        ),
    ];
    await propgate.devices.list.query();
    expect(propgate.$rateLimit?.procedure).toBe("devices.list");
    expect(propgate.$rateLimit?.status).toBe(200);
    expect(propgate.$rateLimit?.limits).toEqual([
      { policy: "resident", remaining: 119, resetSeconds: 60, quota: 120, windowSeconds: 60 },
      { policy: "ip", remaining: 599, resetSeconds: 42, quota: 600, windowSeconds: 60 },
    ]);
    await failure(propgate.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    expect(propgate.$rateLimit?.status).toBe(429);
    expect(propgate.$rateLimit?.limits).toEqual([
      { policy: "open", remaining: 0, resetSeconds: 30, quota: 10, windowSeconds: 60 },
    ]);
    expect(seen).toHaveLength(2);
  });
});
