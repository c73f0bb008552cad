import { afterEach, describe, expect, setSystemTime, test } from "bun:test";
import { createLogger, createMetrics } from "@propgate/observability";
import { z } from "zod";
import {
  type AttemptInfo,
  type AttemptOutcome,
  auditErrorCode,
  type CallRequest,
  ContractViolation,
  createPartnerClient,
  OPERATIONS,
  type PartnerClientOptions,
  PartnerProtocolError,
  PartnerRejectedError,
  type PartnerScope,
  PartnerUnavailableError,
} from "../src/index.ts";
import type { TokenSource } from "../src/token-source.ts";
import type { PartnerFetch } from "../src/transport.ts";

// The client's call against a stub fetch and a stub token source. The runs against the real
// partner simulator stay in apps/dev/test/partner-resilience.e2e.test.ts.

interface SentRequest {
  url: string;
  method: string;
  headers: Headers;
  body: string | null;
  redirect: RequestRedirect | undefined;
  signal: AbortSignal;
  /** `performance.now()` when the request reached the stub. */
  at: number;
}

/** Answers the n-th request with `replies[n]` (the last one repeats). */
type Reply = (request: SentRequest) => Response | Promise<Response>;

function stubPartner(replies: Reply[], events: string[] = []) {
  const requests: SentRequest[] = [];
  const fetch: PartnerFetch = async (input, init) => {
    const signal = init?.signal ?? new AbortController().signal;
    const request: SentRequest = {
      url: String(input),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body: typeof init?.body === "string" ? init.body : null,
      redirect: init?.redirect,
      signal,
      at: performance.now(),
    };
    requests.push(request);
    events.push("fetch");
    const reply = replies[Math.min(requests.length, replies.length) - 1];
    if (!reply) throw new Error("no reply scripted");
    return reply(request);
  };
  return { fetch, requests };
}

/** Hands out token-1, token-2, …; a token named as rejected is replaced by the next one. */
class StubTokens implements TokenSource {
  readonly calls: { scopes: PartnerScope[]; rejected: string | undefined }[] = [];
  failure: Error | null = null;
  private current = 1;
  constructor(private readonly events: string[] = []) {}
  async getToken(scopes: readonly PartnerScope[], options?: { rejected?: string }) {
    this.calls.push({ scopes: [...scopes], rejected: options?.rejected });
    this.events.push("token");
    if (this.failure) throw this.failure;
    if (options?.rejected === `token-${this.current}`) this.current++;
    return `token-${this.current}`;
  }
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

const ok: Reply = () => json({ plates: ["A123BC77"] });
const status =
  (code: number, headers: Record<string, string> = {}, body: unknown = { error: "busy" }): Reply =>
  () =>
    json(body, code, headers);
const networkError: Reply = () => Promise.reject(new TypeError("connection refused"));
/** A partner that never answers, but lets the request be aborted, like a real fetch. */
const silent: Reply = (request) =>
  new Promise((_, reject) => {
    request.signal.addEventListener("abort", () => reject(request.signal.reason), { once: true });
  });

const Plates = z.object({ plates: z.array(z.string()) });

function setup(
  replies: Reply[],
  options: Partial<PartnerClientOptions> & { events?: string[] } = {},
) {
  const { events = [], ...overrides } = options;
  const partner = stubPartner(replies, events);
  const tokens = new StubTokens(events);
  const metrics = createMetrics({ app: "partner-client-test" });
  const logs: string[] = [];
  const logger = createLogger({
    name: "partner-client-test",
    destination: { write: (line: string) => void logs.push(line) },
  });
  const client = createPartnerClient({
    name: "intercom",
    baseUrl: new URL("https://partner.test/api/"),
    tokenSource: tokens,
    fetch: partner.fetch,
    timeoutMs: 2000,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 5,
    metrics,
    logger,
    ...overrides,
  });
  const before: AttemptInfo[] = [];
  const after: AttemptOutcome[] = [];
  const hooks = {
    beforeAttempt: async (info: AttemptInfo) => {
      before.push(info);
      events.push(`beforeAttempt ${info.attempt}`);
    },
    afterAttempt: async (outcome: AttemptOutcome) => {
      after.push(outcome);
      events.push(`afterAttempt ${outcome.attempt}`);
    },
  };
  /** `partnerRequests` as `outcome → count`, checking every row names this partner. */
  async function outcomes(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const { labels, value } of (await metrics.partnerRequests.get()).values) {
      expect(labels.partner).toBe("intercom");
      counts[String(labels.outcome)] = value;
    }
    return counts;
  }
  async function timedAttempts(): Promise<number> {
    const rows = (await metrics.partnerDuration.get()).values;
    return rows.find((row) => row.metricName?.endsWith("_count"))?.value ?? 0;
  }
  async function circuitOpen(): Promise<number | undefined> {
    return (await metrics.circuitOpen.get()).values[0]?.value;
  }
  const logged = (message: string) => logs.some((line) => JSON.parse(line).msg === message);
  /** `propgate_partner_protocol_errors_total` as `operation/reason → count`. */
  async function protocolErrors(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const { labels, value } of (await metrics.partnerProtocolErrors.get()).values) {
      expect(labels.partner).toBe("intercom");
      counts[`${labels.operation}/${labels.reason}`] = value;
    }
    return counts;
  }
  return {
    client,
    logs,
    protocolErrors,
    requests: partner.requests,
    tokens,
    hooks,
    before,
    after,
    events,
    outcomes,
    timedAttempts,
    circuitOpen,
    logged,
  };
}

const listPlates = (extra: Partial<CallRequest<z.infer<typeof Plates>>> = {}) => ({
  operation: "plates.list" as const,
  pathParam: "site-1",
  query: { subject: "subject-1" },
  response: Plates,
  ...extra,
});

/** The settled rejection of `promise` (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

afterEach(() => setSystemTime());

test("the operations used here have the methods the retry rules assume", () => {
  expect(OPERATIONS["plates.list"].method).toBe("GET");
  expect(OPERATIONS["plates.add"].method).toBe("POST");
  expect(OPERATIONS["intercom.open"].method).toBe("POST");
});

/** A door open with an idempotency key: a POST that is safe to retry. */
function openWithKey() {
  return {
    operation: "intercom.open",
    pathParam: "door-1",
    body: { subject: "s" },
    idempotencyKey: "key-00000001",
    response: z.object({ eventId: z.string() }),
  } as const;
}

describe("request", () => {
  test("GET: base path kept, query, bearer token, JSON accepted, no body", async () => {
    const t = setup([ok], { baseUrl: new URL("https://partner.test/api//") });
    await t.client.call(listPlates());
    const [request] = t.requests;
    expect(request?.url).toBe("https://partner.test/api/v1/sites/site-1/plates?subject=subject-1");
    expect(request?.method).toBe("GET");
    expect(request?.redirect).toBe("error");
    expect(request?.body).toBeNull();
    expect(Object.fromEntries(request?.headers ?? [])).toEqual({
      authorization: "Bearer token-1",
      accept: "application/json",
    });
    expect(t.tokens.calls).toEqual([{ scopes: ["plates.manage"], rejected: undefined }]);
  });

  test("two path ids are encoded", async () => {
    const t = setup([() => json({})]);
    await t.client.call({
      operation: "plates.remove",
      pathParam: ["site-1", "plate 1"],
      response: z.object({}),
    });
    expect(t.requests[0]?.url).toBe("https://partner.test/api/v1/sites/site-1/plates/plate%201");
    expect(t.requests[0]?.method).toBe("DELETE");
  });

  test("POST: JSON body and the idempotency key", async () => {
    const t = setup([() => json({ eventId: "e1" })]);
    const answer = await t.client.call(openWithKey());
    expect(answer).toEqual({ eventId: "e1" });
    const [request] = t.requests;
    expect(request?.url).toBe("https://partner.test/api/v1/intercoms/door-1/open");
    expect(request?.method).toBe("POST");
    expect(request?.body).toBe('{"subject":"s"}');
    expect(request?.headers.get("content-type")).toBe("application/json");
    expect(request?.headers.get("idempotency-key")).toBe("key-00000001");
    expect(t.tokens.calls[0]?.scopes).toEqual(["intercom.open"]);
  });

  test("SDP body, SDP accepted, answer handed to decode", async () => {
    const t = setup([
      () => new Response("v=0 answer", { status: 201, headers: { location: "/v1/sessions/s1" } }),
    ]);
    const answer = await t.client.call({
      operation: "video.create_session",
      pathParam: "cam-1",
      sdp: "v=0 offer",
      decode: ({ status, text, headers }) => ({ status, text, location: headers.get("location") }),
    });
    expect(answer).toEqual({ status: 201, text: "v=0 answer", location: "/v1/sessions/s1" });
    const [request] = t.requests;
    expect(request?.body).toBe("v=0 offer");
    expect(request?.headers.get("content-type")).toBe("application/sdp");
    expect(request?.headers.get("accept")).toBe("application/sdp, application/json");
  });
});

describe("answers", () => {
  test("success: decoded, one beforeAttempt, one afterAttempt, counted and timed", async () => {
    const t = setup([ok]);
    const answer = await t.client.call(listPlates({ hooks: t.hooks }));
    expect(answer).toEqual({ plates: ["A123BC77"] });
    expect(t.before).toEqual([{ attempt: 1 }]);
    expect(t.after).toEqual([
      {
        attempt: 1,
        outcome: "success",
        httpStatus: 200,
        errorCode: null,
        latencyMs: expect.any(Number),
      },
    ]);
    expect(await t.outcomes()).toEqual({ success: 1 });
    expect(await t.timedAttempts()).toBe(1);
  });

  test("4xx with a partner error in prose: rejected, not retried, audited as http_<status>", async () => {
    const t = setup([status(409, {}, { error: "plate exists", message: "already there" })]);
    const error = await rejection(
      t.client.call({
        operation: "plates.add",
        pathParam: "site-1",
        body: { plate: "A123BC77" },
        idempotencyKey: "key-00000001",
        response: Plates,
        hooks: t.hooks,
      }),
    );
    expect(error).toBeInstanceOf(PartnerRejectedError);
    expect(error).toMatchObject({
      status: 409,
      partnerError: "plate exists",
      message: "partner intercom rejected plates.add (HTTP 409)",
    });
    expect(t.requests).toHaveLength(1);
    expect(t.after).toMatchObject([{ outcome: "failure", httpStatus: 409, errorCode: "http_409" }]);
    expect(await t.outcomes()).toEqual({ rejected: 1 });
  });

  test("4xx without a partner error body, or with an overlong code: http_<status>", async () => {
    const t = setup([status(404, {}, "not found"), status(400, {}, { error: "x".repeat(100) })]);
    const first = await rejection(t.client.call(listPlates({ hooks: t.hooks })));
    expect(first).toMatchObject({ status: 404, partnerError: null });
    const second = await rejection(t.client.call(listPlates({ hooks: t.hooks })));
    expect(second).toMatchObject({ status: 400, partnerError: "x".repeat(64) });
    expect(t.after.map((row) => row.errorCode)).toEqual(["http_404", "http_400"]);
  });

  const malformed: [string, Reply, Partial<CallRequest<unknown>>, string, string, string[]][] = [
    ["not JSON", () => new Response("<html>"), {}, "a body that is not JSON", "not_json", []],
    [
      "JSON off the schema",
      () => json({ plates: [1] }),
      {},
      "a body that breaks the contract",
      "schema",
      ["plates.0"],
    ],
    [
      "a decode that refuses it",
      () => new Response("garbage"),
      {
        response: undefined,
        decode: () => {
          throw new ContractViolation("location", "no Location header", ["Location"]);
        },
      },
      "an answer that breaks the contract: no Location header",
      "location",
      ["Location"],
    ],
    [
      "a decode that throws anything else",
      () => new Response("secret-plate A123BC77"),
      {
        response: undefined,
        decode: (answer) => {
          throw new Error(`cannot read ${answer.text}`);
        },
      },
      "an answer that breaks the contract",
      "schema",
      [],
    ],
  ];
  for (const [name, reply, extra, problem, reason, fields] of malformed) {
    test(`2xx with ${name}: protocol error, not retried, one warning and the counter`, async () => {
      const t = setup([reply]);
      const error = await rejection(t.client.call({ ...listPlates({ hooks: t.hooks }), ...extra }));
      expect(error).toBeInstanceOf(PartnerProtocolError);
      expect((error as Error).message).toBe(
        `partner intercom answered plates.list with ${problem}`,
      );
      expect(error).toMatchObject({ reason });
      const warnings = t.logs
        .map((line) => JSON.parse(line))
        .filter((line) => line.msg === "partner answer refused: it breaks the contract");
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({
        level: "warn",
        partner: "intercom",
        operation: "plates.list",
        status: 200,
        reason,
      });
      expect(warnings[0].fields ?? []).toEqual(fields);
      // Never the body: the partner's text may hold anything (a plate, a name).
      expect(t.logs.join("\n")).not.toContain("A123BC77");
      expect(t.logs.join("\n")).not.toContain("<html>");
      expect(await t.protocolErrors()).toEqual({ [`plates.list/${reason}`]: 1 });
      expect(t.requests).toHaveLength(1);
      expect(t.after).toMatchObject([
        { outcome: "failure", httpStatus: 200, errorCode: "protocol" },
      ]);
      expect(await t.outcomes()).toEqual({ protocol_error: 1 });
    });
  }

  test("declared oversize: body not read, protocol error, not retried", async () => {
    let cancelled = false;
    let chunks = 0;
    const body = new ReadableStream({
      pull: (controller) => {
        controller.enqueue(new Uint8Array(50));
        if (++chunks === 40) controller.close();
      },
      cancel: () => {
        cancelled = true;
      },
    });
    const t = setup([() => new Response(body, { headers: { "content-length": "2000" } })], {
      maxResponseBytes: 100,
    });
    const error = await rejection(t.client.call(listPlates({ hooks: t.hooks })));
    expect(error).toBeInstanceOf(PartnerProtocolError);
    expect((error as Error).message).toBe("partner intercom sent an oversized response");
    expect(cancelled).toBe(true);
    expect(t.requests).toHaveLength(1);
    expect(t.after).toMatchObject([{ outcome: "failure", httpStatus: 200, errorCode: "protocol" }]);
    expect(await t.outcomes()).toEqual({ protocol_error: 1 });
  });

  test("undeclared oversize body: protocol error", async () => {
    const t = setup(
      [
        () => {
          const response = new Response(
            new ReadableStream({
              start(controller) {
                controller.enqueue(new TextEncoder().encode(`{"plates":["${"x".repeat(200)}"]}`));
                controller.close();
              },
            }),
          );
          expect(response.headers.get("content-length")).toBeNull();
          return response;
        },
      ],
      { maxResponseBytes: 100 },
    );
    const error = await rejection(t.client.call(listPlates({ hooks: t.hooks })));
    expect(error).toBeInstanceOf(PartnerProtocolError);
    expect(t.after).toMatchObject([{ httpStatus: 200, errorCode: "protocol" }]);
  });

  test("a failing afterAttempt is logged and the answer still returned", async () => {
    const t = setup([ok]);
    const answer = await t.client.call(
      listPlates({
        hooks: {
          beforeAttempt: async () => {},
          afterAttempt: async () => {
            throw new Error("audit store down");
          },
        },
      }),
    );
    expect(answer).toEqual({ plates: ["A123BC77"] });
    expect(t.logged("recording a partner answer failed")).toBe(true);
    expect(await t.outcomes()).toEqual({ success: 1 });
  });
});

describe("retries", () => {
  test("GET: 503 then success, two requests, two afterAttempt rows", async () => {
    const t = setup([status(503), ok]);
    expect(await t.client.call(listPlates({ hooks: t.hooks }))).toEqual({ plates: ["A123BC77"] });
    expect(t.requests).toHaveLength(2);
    expect(t.before).toEqual([{ attempt: 1 }, { attempt: 2 }]);
    expect(t.after).toMatchObject([
      { attempt: 1, outcome: "failure", httpStatus: 503, errorCode: "busy" },
      { attempt: 2, outcome: "success", httpStatus: 200, errorCode: null },
    ]);
    expect(await t.outcomes()).toEqual({ unavailable: 1, success: 1 });
    expect(await t.timedAttempts()).toBe(2);
  });

  test("GET: at most 3 attempts by default, then unavailable", async () => {
    const t = setup([status(502, {}, "bad gateway")]);
    const error = await rejection(t.client.call(listPlates({ hooks: t.hooks })));
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect(error).toMatchObject({
      message: "partner intercom is unavailable (HTTP 502)",
      retryAfterSeconds: null,
    });
    expect(t.requests).toHaveLength(3);
    expect(t.after.map((row) => row.errorCode)).toEqual(["http_502", "http_502", "http_502"]);
  });

  test("maxAttempts bounds the attempts", async () => {
    const t = setup([status(503)], { maxAttempts: 2 });
    await rejection(t.client.call(listPlates()));
    expect(t.requests).toHaveLength(2);
  });

  test("GET: network errors retried, then 'could not be reached'", async () => {
    const t = setup([networkError]);
    const error = await rejection(t.client.call(listPlates({ hooks: t.hooks })));
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect((error as Error).message).toBe("partner intercom could not be reached");
    expect(t.requests).toHaveLength(3);
    expect(t.after).toMatchObject([
      { outcome: "failure", httpStatus: null, errorCode: "network" },
      { errorCode: "network" },
      { errorCode: "network" },
    ]);
    expect(await t.outcomes()).toEqual({ network: 3 });
  });

  test("POST without an idempotency key is never retried", async () => {
    for (const reply of [status(503), networkError]) {
      const t = setup([reply, () => json({ eventId: "e1" })]);
      const error = await rejection(
        t.client.call({
          operation: "intercom.open",
          pathParam: "door-1",
          body: { subject: "s" },
          response: z.object({ eventId: z.string() }),
        }),
      );
      expect(error).toBeInstanceOf(PartnerUnavailableError);
      expect(t.requests).toHaveLength(1);
    }
  });

  test("POST with an idempotency key is retried with the same key", async () => {
    const t = setup([status(503), () => json({ eventId: "e1" })]);
    const answer = await t.client.call(openWithKey());
    expect(answer).toEqual({ eventId: "e1" });
    expect(t.requests.map((request) => request.headers.get("idempotency-key"))).toEqual([
      "key-00000001",
      "key-00000001",
    ]);
    expect(t.requests.map((request) => request.body)).toEqual([
      '{"subject":"s"}',
      '{"subject":"s"}',
    ]);
  });

  test("429 Retry-After (seconds) is waited for when within maxRetryAfterMs", async () => {
    const t = setup([status(429, { "retry-after": "1" }), ok], {
      timeoutMs: 5000,
      maxRetryAfterMs: 2000,
    });
    await t.client.call(listPlates({ hooks: t.hooks }));
    const [first, second] = t.requests;
    expect(second).toBeDefined();
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(990);
    expect(await t.outcomes()).toEqual({ rate_limited: 1, success: 1 });
  });

  test("429 Retry-After beyond maxRetryAfterMs ends the call at once", async () => {
    const t = setup([status(429, { "retry-after": "3" }, { error: "slow_down" }), ok], {
      timeoutMs: 5000,
      maxRetryAfterMs: 2000,
    });
    const started = performance.now();
    const error = await rejection(t.client.call(listPlates({ hooks: t.hooks })));
    expect(performance.now() - started).toBeLessThan(500);
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect(error).toMatchObject({
      message: "partner intercom is rate limiting us",
      retryAfterSeconds: 3,
    });
    expect(t.requests).toHaveLength(1);
    expect(t.after).toMatchObject([{ httpStatus: 429, errorCode: "slow_down" }]);
  });

  test("a Retry-After that would pass the deadline ends the call", async () => {
    const t = setup([status(503, { "retry-after": "1" }), ok], {
      timeoutMs: 300,
      maxRetryAfterMs: 5000,
    });
    const error = await rejection(t.client.call(listPlates()));
    expect(error).toMatchObject({
      message: "partner intercom is unavailable (HTTP 503)",
      retryAfterSeconds: 1,
    });
    expect(t.requests).toHaveLength(1);
  });
});

describe("401", () => {
  test("a fresh token is fetched naming the rejected one, and the request replayed once", async () => {
    // Even a POST without an idempotency key: the partner refused it before acting.
    const t = setup([status(401, {}, { error: "invalid_token" }), () => json({ eventId: "e1" })]);
    const answer = await t.client.call({
      operation: "intercom.open",
      pathParam: "door-1",
      body: { subject: "s" },
      response: z.object({ eventId: z.string() }),
      hooks: t.hooks,
    });
    expect(answer).toEqual({ eventId: "e1" });
    expect(t.tokens.calls).toEqual([
      { scopes: ["intercom.open"], rejected: undefined },
      { scopes: ["intercom.open"], rejected: "token-1" },
    ]);
    expect(t.requests.map((request) => request.headers.get("authorization"))).toEqual([
      "Bearer token-1",
      "Bearer token-2",
    ]);
    expect(t.after).toMatchObject([
      { attempt: 1, outcome: "failure", httpStatus: 401, errorCode: "invalid_token" },
      { attempt: 2, outcome: "success", httpStatus: 200 },
    ]);
    expect(await t.outcomes()).toEqual({ unauthorized: 1, success: 1 });
  });

  test("a second 401 ends the call: 'refused our credentials'", async () => {
    const t = setup([status(401, {}, "")]);
    const error = await rejection(t.client.call(listPlates({ hooks: t.hooks })));
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect((error as Error).message).toBe("partner intercom refused our credentials");
    expect(t.requests).toHaveLength(2);
    expect(t.after.map((row) => row.errorCode)).toEqual(["http_401", "http_401"]);
    expect(t.logged("partner refused a fresh token")).toBe(true);
    expect(await t.outcomes()).toEqual({ unauthorized: 2 });
  });
});

describe("deadline", () => {
  test("a partner that never answers: unavailable within timeoutMs, errorCode timeout", async () => {
    const t = setup([silent], { timeoutMs: 150 });
    const started = performance.now();
    const error = await rejection(t.client.call(listPlates({ hooks: t.hooks })));
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect((error as Error).message).toBe("partner intercom did not answer within 150 ms");
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
    expect(t.requests).toHaveLength(1);
    expect(t.after).toMatchObject([{ outcome: "failure", httpStatus: null, errorCode: "timeout" }]);
    expect(await t.outcomes()).toEqual({ timeout: 1 });
  });

  test("starts when the first request is sent, not when the call starts", async () => {
    const t = setup([status(503), ok], { timeoutMs: 1000 });
    const answer = await t.client.call(
      listPlates({
        hooks: {
          // A slow audit write: the clock moves 10 s before the first request leaves.
          beforeAttempt: async ({ attempt }) => {
            if (attempt === 1) setSystemTime(new Date(Date.now() + 10_000));
          },
          afterAttempt: async () => {},
        },
      }),
    );
    expect(answer).toEqual({ plates: ["A123BC77"] });
    expect(t.requests).toHaveLength(2);
  });
});

describe("circuit breaker", () => {
  test("opens after breakerThreshold failures, fails fast, closes after the half-open wait", async () => {
    const t = setup([status(503), status(503), ok], {
      maxAttempts: 1,
      breakerThreshold: 2,
      breakerHalfOpenAfterMs: 30,
    });
    for (let i = 0; i < 2; i++) {
      expect(await rejection(t.client.call(listPlates()))).toMatchObject({
        message: "partner intercom is unavailable (HTTP 503)",
      });
    }
    expect(t.client.isAvailable()).toBe(false);
    expect(await t.circuitOpen()).toBe(1);
    expect(t.logged("partner circuit opened")).toBe(true);

    const error = await rejection(t.client.call(listPlates({ hooks: t.hooks })));
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect((error as Error).message).toBe("partner intercom is unavailable (circuit open)");
    expect(t.requests).toHaveLength(2);
    expect(t.tokens.calls).toHaveLength(2);
    expect(t.before).toEqual([]);
    expect(t.after).toEqual([]);
    expect(await t.outcomes()).toEqual({ unavailable: 2, circuit_open: 1 });

    const giveUpAt = performance.now() + 2000;
    let answer: unknown;
    while (answer === undefined) {
      try {
        answer = await t.client.call(listPlates());
      } catch (failure) {
        expect((failure as Error).message).toContain("circuit open");
        expect(performance.now()).toBeLessThan(giveUpAt);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    expect(answer).toEqual({ plates: ["A123BC77"] });
    expect(t.requests).toHaveLength(3);
    expect(t.client.isAvailable()).toBe(true);
    expect(await t.circuitOpen()).toBe(0);
    expect(t.logged("partner circuit closed")).toBe(true);
  });

  test("timeouts, network errors and oversize answers count as failures", async () => {
    const t = setup([silent, networkError, () => new Response("x".repeat(200))], {
      maxAttempts: 1,
      timeoutMs: 20,
      breakerThreshold: 3,
      maxResponseBytes: 100,
    });
    await rejection(t.client.call(listPlates()));
    await rejection(t.client.call(listPlates()));
    expect(t.client.isAvailable()).toBe(true);
    expect(await rejection(t.client.call(listPlates()))).toBeInstanceOf(PartnerProtocolError);
    expect(t.client.isAvailable()).toBe(false);
  });

  test("429 and 4xx answers do not count; a success resets the count", async () => {
    const t = setup(
      [status(409), status(409), status(429), status(429), status(503), ok, status(503)],
      { maxAttempts: 1, breakerThreshold: 2 },
    );
    for (let i = 0; i < 7; i++) await t.client.call(listPlates()).catch(() => {});
    expect(t.requests).toHaveLength(7);
    expect(t.client.isAvailable()).toBe(true);
  });
});

describe("before sending", () => {
  test("beforeSend runs before every attempt, ahead of the token and the hooks", async () => {
    const events: string[] = [];
    const t = setup([status(503), ok], {
      events,
      beforeSend: async ({ operation, attempt }) => {
        events.push(`beforeSend ${operation} ${attempt}`);
      },
    });
    await t.client.call(listPlates({ hooks: t.hooks }));
    expect(events).toEqual([
      "beforeSend plates.list 1",
      "token",
      "beforeAttempt 1",
      "fetch",
      "afterAttempt 1",
      "beforeSend plates.list 2",
      "token",
      "beforeAttempt 2",
      "fetch",
      "afterAttempt 2",
    ]);
  });

  test("beforeSend throwing: nothing is sent and its error propagates", async () => {
    const limited = new Error("outbound rate limit");
    const t = setup([ok], {
      beforeSend: async () => {
        throw limited;
      },
    });
    expect(await rejection(t.client.call(listPlates({ hooks: t.hooks })))).toBe(limited);
    expect(t.requests).toEqual([]);
    expect(t.tokens.calls).toEqual([]);
    expect(t.before).toEqual([]);
    expect(t.after).toEqual([]);
    expect(await t.outcomes()).toEqual({ not_sent: 1 });
  });

  test("beforeSend throwing before a retry: the retry is not sent", async () => {
    const t = setup([status(503), ok], {
      beforeSend: async ({ attempt }) => {
        if (attempt > 1) throw new Error("outbound rate limit");
      },
    });
    expect(await rejection(t.client.call(listPlates()))).toMatchObject({
      message: "outbound rate limit",
    });
    expect(t.requests).toHaveLength(1);
  });

  test("hooks.beforeAttempt throwing: nothing is sent and its error propagates", async () => {
    const noConsent = new Error("consent withdrawn");
    const t = setup([ok]);
    let after = 0;
    const error = await rejection(
      t.client.call(
        listPlates({
          hooks: {
            beforeAttempt: async () => {
              throw noConsent;
            },
            afterAttempt: async () => {
              after++;
            },
          },
        }),
      ),
    );
    expect(error).toBe(noConsent);
    expect(t.requests).toEqual([]);
    expect(after).toBe(0);
  });

  test("no token: nothing is sent, counted as token_unavailable", async () => {
    const t = setup([ok]);
    t.tokens.failure = new PartnerUnavailableError("token endpoint down");
    expect(await rejection(t.client.call(listPlates({ hooks: t.hooks })))).toBe(t.tokens.failure);
    expect(t.requests).toEqual([]);
    expect(t.before).toEqual([]);
    expect(await t.outcomes()).toEqual({ token_unavailable: 1 });
  });
});

describe("caller abort", () => {
  test("during a retry pause: the call rejects with the signal's reason at once", async () => {
    const controller = new AbortController();
    const reason = new Error("resident hung up");
    const t = setup([status(503, { "retry-after": "1" }), ok], { timeoutMs: 5000 });
    const started = performance.now();
    const error = await rejection(
      t.client.call(
        listPlates({
          signal: controller.signal,
          hooks: {
            beforeAttempt: async () => {},
            afterAttempt: async () => {
              setTimeout(() => controller.abort(reason), 20);
            },
          },
        }),
      ),
    );
    expect(error).toBe(reason);
    expect(performance.now() - started).toBeLessThan(500);
    expect(t.requests).toHaveLength(1);
  });

  test("during a request: the call rejects with the signal's reason", async () => {
    const controller = new AbortController();
    const reason = new Error("resident hung up");
    const t = setup([
      (request) => {
        setTimeout(() => controller.abort(reason), 5);
        return silent(request);
      },
    ]);
    // A POST without a key: were the abort taken for a partner failure, it would end as
    // "could not be reached" instead.
    const call = t.client.call({
      operation: "intercom.open",
      pathParam: "door-1",
      body: { subject: "s" },
      response: z.object({ eventId: z.string() }),
      signal: controller.signal,
    });
    expect(await rejection(call)).toBe(reason);
    expect(t.requests).toHaveLength(1);
  });

  test("already aborted: nothing is sent", async () => {
    const reason = new Error("gone");
    const t = setup([ok]);
    const error = await rejection(t.client.call(listPlates({ signal: AbortSignal.abort(reason) })));
    expect(error).toBe(reason);
    expect(t.requests).toEqual([]);
    expect(t.tokens.calls).toEqual([]);
  });
});

describe("auditErrorCode", () => {
  test("keeps a partner's plain snake_case code and turns anything else into http_<status>", () => {
    expect(auditErrorCode(409, "conflict")).toBe("conflict");
    expect(auditErrorCode(429, "slow_down")).toBe("slow_down");
    for (const text of [
      "plate exists",
      "A123BC77",
      "a123bc77_exists",
      "Conflict",
      "x".repeat(65),
      "user ivan@example.com",
      "",
    ]) {
      expect(auditErrorCode(409, text)).toBe("http_409");
    }
    expect(auditErrorCode(503, null)).toBe("http_503");
  });
});
