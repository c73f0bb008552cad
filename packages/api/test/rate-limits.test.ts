import { afterEach, beforeEach, describe, expect, setSystemTime, test } from "bun:test";
import { Hono } from "hono";
import {
  causeOfTRPCError,
  OutboundRateLimitedError,
  RateLimitedError,
  toTRPCError,
  trpcErrorEnvelope,
} from "../src/errors.ts";
import { enforceRateLimit } from "../src/rate-limits/enforce.ts";
import { appendRateLimitHeaders, rateLimitHeaders } from "../src/rate-limits/headers.ts";
import { rateLimitMiddleware } from "../src/rate-limits/http-middleware.ts";
import {
  createRateLimits,
  LIMIT_NAMES,
  type LimitName,
  type LimitPolicy,
  refusalMessage,
} from "../src/rate-limits/limits.ts";
import { outboundRateLimit } from "../src/rate-limits/outbound.ts";
import { observed } from "./fixtures/observed.ts";

/**
 * Invariant 7's limits in this process's memory, one by one, as a caller meets them: under the
 * limit the call goes on with its RateLimit fields; over it, the refusal, its code and fields.
 * The clock stands still at a window's start, so every `t=` is exact; tests move it on.
 */
const T0 = Date.UTC(2030, 0, 1);
beforeEach(() => setSystemTime(new Date(T0)));
afterEach(() => setSystemTime());
const later = (seconds: number) => setSystemTime(new Date(T0 + seconds * 1000));

const ROOMY: LimitPolicy = { quota: 1000, windowSeconds: 60 };
const perMinute = (quota: number): LimitPolicy => ({ quota, windowSeconds: 60 });

function limitsWith(policies: Partial<Record<LimitName, LimitPolicy>>) {
  const services = observed();
  const all = Object.fromEntries(LIMIT_NAMES.map((limit) => [limit, policies[limit] ?? ROOMY]));
  const rateLimits = createRateLimits(
    { policies: all as Record<LimitName, LimitPolicy>, keyPrefix: "unused:" },
    services,
  );
  return { rateLimits, ...services };
}

/** A procedure's limits as `trpc.ts` counts them, and what its caller gets back. */
async function procedureCall(counts: () => Promise<void>) {
  try {
    await counts();
    return { error: null };
  } catch (error) {
    return { error: toTRPCError(error) };
  }
}

describe("per client IP (the Hono middleware before tRPC)", () => {
  /** The resident api's `/trpc/*` as packages/server's app.ts guards it. */
  function guardedApi(quota: number) {
    const { rateLimits, metric } = limitsWith({ ip: perMinute(quota) });
    const app = new Hono();
    app.use(
      "/trpc/*",
      rateLimitMiddleware({
        rateLimits,
        limit: "ip",
        key: (c) => c.req.header("x-test-address"),
        refusal: (_c, decision) =>
          trpcErrorEnvelope({
            code: "TOO_MANY_REQUESTS",
            httpStatus: 429,
            message: refusalMessage(decision),
            cause: { code: "RATE_LIMITED", retryAfterSeconds: decision.resetSeconds },
            requestId: "req_ip",
          }),
      }),
    );
    app.get("/trpc/devices.list", (c) => c.json({ result: { data: [] } }));
    const from = (address?: string) =>
      app.request("/trpc/devices.list", {
        headers: address ? { "x-test-address": address } : {},
      });
    return { from, metric };
  }

  test("under the limit: the answer goes through with the ip item of RateLimit and RateLimit-Policy", async () => {
    const { from } = guardedApi(3);
    const first = await from("203.0.113.1");
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ result: { data: [] } });
    expect(first.headers.get("ratelimit")).toBe('"ip";r=2;t=60');
    expect(first.headers.get("ratelimit-policy")).toBe('"ip";q=3;w=60');
    expect(first.headers.get("retry-after")).toBeNull();
  });

  test("over the limit: 429 with tRPC's envelope (RATE_LIMITED), Retry-After and both fields; other addresses go on", async () => {
    const { from, metric } = guardedApi(2);
    expect([(await from("203.0.113.1")).status, (await from("203.0.113.1")).status]).toEqual([
      200, 200,
    ]);
    const refused = await from("203.0.113.1");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect(refused.headers.get("ratelimit")).toBe('"ip";r=0;t=60');
    expect(refused.headers.get("ratelimit-policy")).toBe('"ip";q=2;w=60');
    expect(await refused.json()).toEqual({
      error: {
        message: "too many requests, try again in 60 s",
        code: -32029,
        data: {
          code: "TOO_MANY_REQUESTS",
          httpStatus: 429,
          cause: { code: "RATE_LIMITED", retryAfterSeconds: 60 },
          requestId: "req_ip",
        },
      },
    });
    expect(await metric("propgate_rate_limited_total", { limit: "ip" })).toBe(1);
    expect((await from("203.0.113.2")).status).toBe(200);
    // No address (an in-process request): nothing to count, the request goes through.
    const unkeyed = await from();
    expect(unkeyed.status).toBe(200);
    expect(unkeyed.headers.get("ratelimit")).toBeNull();
  });

  test("the window's end restores the quota, and Retry-After counts down to it", async () => {
    const { from } = guardedApi(1);
    await from("203.0.113.1");
    later(45);
    const refused = await from("203.0.113.1");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("15");
    later(60);
    const again = await from("203.0.113.1");
    expect(again.status).toBe(200);
    expect(again.headers.get("ratelimit")).toBe('"ip";r=0;t=60');
  });
});

describe("per resident and per door/gate open (procedures)", () => {
  test("every resident call counts: under the limit its fields go on the answer; over it RATE_LIMITED with Retry-After", async () => {
    const { rateLimits, metric } = limitsWith({ resident: perMinute(2) });
    const headers: Headers[] = [];
    const calls = [];
    for (let i = 0; i < 3; i++) {
      const responseHeaders = new Headers();
      headers.push(responseHeaders);
      calls.push(
        await procedureCall(() =>
          enforceRateLimit(rateLimits, responseHeaders, "resident", "usr_a"),
        ),
      );
    }
    expect(calls.map((call) => call.error?.code ?? "ok")).toEqual([
      "ok",
      "ok",
      "TOO_MANY_REQUESTS",
    ]);
    expect(headers[0]?.get("ratelimit")).toBe('"resident";r=1;t=60');
    expect(headers[0]?.get("ratelimit-policy")).toBe('"resident";q=2;w=60');
    expect(headers[0]?.get("retry-after")).toBeNull();
    const refused = calls[2]?.error;
    if (!refused) throw new Error("the third call was not refused");
    expect(causeOfTRPCError(refused)).toEqual({ code: "RATE_LIMITED", retryAfterSeconds: 60 });
    expect(refused.message).toBe("too many requests, try again in 60 s");
    expect(headers[2]?.get("ratelimit")).toBe('"resident";r=0;t=60');
    expect(headers[2]?.get("retry-after")).toBe("60");
    expect(await metric("propgate_rate_limited_total", { limit: "resident" })).toBe(1);
    // Another resident has a quota of their own.
    const neighbour = await procedureCall(() =>
      enforceRateLimit(rateLimits, new Headers(), "resident", "usr_b"),
    );
    expect(neighbour.error).toBeNull();
  });

  test("an open counts against the resident and the open limit: both items reported, the open's refusal names its wait", async () => {
    const { rateLimits, metric } = limitsWith({
      resident: perMinute(10),
      open: perMinute(2),
    });
    /** `partnerProcedure(…, { limit: "open" })`: the resident's limit, then the open limit. */
    const open = async (userId: string) => {
      const responseHeaders = new Headers();
      const call = await procedureCall(async () => {
        await enforceRateLimit(rateLimits, responseHeaders, "resident", userId);
        await enforceRateLimit(rateLimits, responseHeaders, "open", userId);
      });
      return { ...call, headers: responseHeaders };
    };
    const first = await open("usr_a");
    expect(first.error).toBeNull();
    expect(first.headers.get("ratelimit")).toBe('"resident";r=9;t=60, "open";r=1;t=60');
    expect(first.headers.get("ratelimit-policy")).toBe('"resident";q=10;w=60, "open";q=2;w=60');
    await open("usr_a");
    later(20);
    const refused = await open("usr_a");
    if (!refused.error) throw new Error("the third open was not refused");
    expect(refused.error.code).toBe("TOO_MANY_REQUESTS");
    expect(causeOfTRPCError(refused.error)).toEqual({
      code: "RATE_LIMITED",
      retryAfterSeconds: 40,
    });
    expect(refused.headers.get("ratelimit")).toBe('"resident";r=7;t=40, "open";r=0;t=40');
    expect(refused.headers.get("retry-after")).toBe("40");
    expect(await metric("propgate_rate_limited_total", { limit: "open" })).toBe(1);
    expect(await metric("propgate_rate_limited_total", { limit: "resident" })).toBe(0);
    expect((await open("usr_b")).error).toBeNull();
    later(60);
    expect((await open("usr_a")).error).toBeNull();
  });

  test("a refusal is the RATE_LIMITED domain error, for the one error mapping", async () => {
    const { rateLimits } = limitsWith({ resident: perMinute(1) });
    await enforceRateLimit(rateLimits, new Headers(), "resident", "usr_a");
    const refusal = enforceRateLimit(rateLimits, new Headers(), "resident", "usr_a");
    await expect(refusal).rejects.toBeInstanceOf(RateLimitedError);
    await expect(refusal).rejects.toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: 60 });
  });
});

describe("per partner client (the partner surface's middleware)", () => {
  test("each verified client id has its own quota; over it 429 with the HTTP error shape and the fields", async () => {
    const { rateLimits, metric } = limitsWith({ partner_client: perMinute(2) });
    const app = new Hono();
    app.use(
      rateLimitMiddleware({
        rateLimits,
        limit: "partner_client",
        key: (c) => c.req.header("x-test-client"),
        refusal: (_c, decision) => ({
          error: {
            code: "RATE_LIMITED",
            message: refusalMessage(decision),
            requestId: "req_partner",
            retryAfterSeconds: decision.resetSeconds,
          },
        }),
      }),
    );
    app.post("/partner/v1/events", (c) => c.json({ accepted: true }, 202));
    const send = (client: string) =>
      app.request("/partner/v1/events", { method: "POST", headers: { "x-test-client": client } });
    const answers = [await send("ic-a"), await send("ic-a"), await send("ic-a")];
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 429]);
    expect(answers[1]?.headers.get("ratelimit")).toBe('"partner_client";r=0;t=60');
    const refused = answers[2];
    expect(refused?.headers.get("ratelimit-policy")).toBe('"partner_client";q=2;w=60');
    expect(refused?.headers.get("retry-after")).toBe("60");
    expect(await refused?.json()).toEqual({
      error: {
        code: "RATE_LIMITED",
        message: "too many requests, try again in 60 s",
        requestId: "req_partner",
        retryAfterSeconds: 60,
      },
    });
    expect(await metric("propgate_rate_limited_total", { limit: "partner_client" })).toBe(1);
    expect((await send("br-b")).status).toBe(202);
  });
});

describe("outbound per partner (the partner clients' beforeSend hook)", () => {
  test("over the per-second cap nothing is sent: PARTNER_UNAVAILABLE with retryAfterSeconds; the other partner goes on", async () => {
    const { rateLimits, metric } = limitsWith({ outbound: { quota: 2, windowSeconds: 1 } });
    const beforeSend = outboundRateLimit(rateLimits);
    await beforeSend("intercom");
    await beforeSend("intercom");
    const refusal = beforeSend("intercom");
    await expect(refusal).rejects.toBeInstanceOf(OutboundRateLimitedError);
    const error = await refusal.catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: "PARTNER_UNAVAILABLE",
      retryAfterSeconds: 1,
      message: "requests to partner intercom are over the local rate limit",
    });
    const mapped = toTRPCError(error);
    expect(mapped.code).toBe("SERVICE_UNAVAILABLE");
    expect(causeOfTRPCError(mapped)).toEqual({
      code: "PARTNER_UNAVAILABLE",
      retryAfterSeconds: 1,
    });
    expect(await metric("propgate_rate_limited_total", { limit: "outbound" })).toBe(1);
    await beforeSend("barrier");
    later(1);
    await beforeSend("intercom");
  });
});

describe("every limit", () => {
  test("counts its own keys: quota allowed, then refused with a reset of at least 1 s, counted by limit", async () => {
    const policies = Object.fromEntries(
      LIMIT_NAMES.map((limit) => [limit, { quota: 2, windowSeconds: 30 }]),
    );
    const { rateLimits, metric } = limitsWith(policies);
    expect(rateLimits.backend).toBe("memory");
    expect(await metric("propgate_rate_limit_backend_up", { backend: "memory" })).toBe(1);
    for (const limit of LIMIT_NAMES) {
      const decisions = [];
      for (let i = 0; i < 3; i++) decisions.push(await rateLimits.consume(limit, "key-1"));
      expect(decisions).toEqual([
        { limit, allowed: true, quota: 2, windowSeconds: 30, remaining: 1, resetSeconds: 30 },
        { limit, allowed: true, quota: 2, windowSeconds: 30, remaining: 0, resetSeconds: 30 },
        { limit, allowed: false, quota: 2, windowSeconds: 30, remaining: 0, resetSeconds: 30 },
      ]);
      expect(await metric("propgate_rate_limited_total", { limit })).toBe(1);
      // The same key under another limit, and another key under this one, are apart.
      expect((await rateLimits.consume(limit, "key-2")).allowed).toBe(true);
    }
    later(29.5);
    expect((await rateLimits.consume("partner_token_peer", "key-1")).resetSeconds).toBe(1);
  });
});

describe("header syntax", () => {
  test("RateLimit-Policy and RateLimit are structured-field lists, Retry-After the longest wait", () => {
    const headers = Object.fromEntries(
      rateLimitHeaders([
        {
          limit: "resident",
          allowed: true,
          quota: 60,
          windowSeconds: 60,
          remaining: 41,
          resetSeconds: 30,
        },
        {
          limit: "open",
          allowed: false,
          quota: 20,
          windowSeconds: 60,
          remaining: 0,
          resetSeconds: 12,
        },
      ]),
    );
    expect(headers).toEqual({
      "RateLimit-Policy": '"resident";q=60;w=60, "open";q=20;w=60',
      RateLimit: '"resident";r=41;t=30, "open";r=0;t=12',
      "Retry-After": "12",
    });
    expect(rateLimitHeaders([])).toEqual([]);
  });

  test("appending extends the lists and keeps the longest Retry-After", () => {
    const target = new Headers({ "Retry-After": "30" });
    const refused = (limit: LimitName, resetSeconds: number) => ({
      limit,
      allowed: false,
      quota: 1,
      windowSeconds: 60,
      remaining: 0,
      resetSeconds,
    });
    appendRateLimitHeaders(target, [refused("resident", 12)]);
    appendRateLimitHeaders(target, [refused("open", 45)]);
    expect(target.get("ratelimit")).toBe('"resident";r=0;t=12, "open";r=0;t=45');
    expect(target.get("ratelimit-policy")).toBe('"resident";q=1;w=60, "open";q=1;w=60');
    expect(target.get("retry-after")).toBe("45");
  });
});
