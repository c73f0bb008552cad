import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { countAuditEvents } from "@propgate/consent-audit";
import { subjectFor } from "@propgate/partner-client";
import { partnerClientRateLimit } from "@propgate/server";
import { Hono } from "hono";
import { Redis } from "ioredis";
import {
  errorOf,
  grant,
  type Instance,
  type Resident,
  startInstance,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";

/**
 * Invariant 7 (docs/architecture.md) end to end: per IP, per resident, per door/gate open, per partner client
 * and outbound per partner; 429 with Retry-After and the IETF RateLimit fields; one combined
 * count across instances sharing Redis, and a local insurance limit when Redis is gone.
 */
const OPEN_LIMIT = 3;
const RESIDENT_LIMIT = 12;
const PARTNER_CLIENT_LIMIT = 3;
const REDIS_URL = process.env.REDIS_URL;
const IN_CI = process.env.CI === "true";
if (!REDIS_URL && !IN_CI)
  console.warn("[skip] rate limits shared through Redis: set REDIS_URL to run that test");

let stack: TestStack;
const instances: Instance[] = [];
beforeAll(async () => {
  stack = await startTestStack({
    env: {
      RATE_LIMIT_OPEN_PER_MINUTE: String(OPEN_LIMIT),
      RATE_LIMIT_RESIDENT_PER_MINUTE: String(RESIDENT_LIMIT),
      RATE_LIMIT_PARTNER_CLIENT_PER_MINUTE: String(PARTNER_CLIENT_LIMIT),
    },
  });
});
afterAll(async () => {
  for (const instance of instances) await instance.stop();
  await stack?.close();
});

async function instance(id: string, env: Record<string, string>): Promise<Instance> {
  const started = await startInstance(stack, id, env);
  instances.push(started);
  return started;
}

interface RawAnswer {
  status: number;
  headers: Headers;
  body: {
    result?: { data?: unknown };
    error?: {
      code: number;
      message: string;
      data: {
        code: string;
        httpStatus: number;
        cause: { code: string; retryAfterSeconds?: number };
        requestId: string;
      };
    };
  };
}

/** One tRPC mutation as plain HTTP, to see the status and headers a client gets. */
async function mutate(
  baseUrl: string,
  path: string,
  input: unknown,
  headers: Record<string, string> = {},
): Promise<RawAnswer> {
  const response = await fetch(`${baseUrl}/trpc/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(input),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

async function query(baseUrl: string, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}/trpc/${path}`, { headers });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

const bearer = (resident: Resident) => ({ authorization: `Bearer ${resident.token}` });

function opensOf(resident: Resident, partner: "intercom" | "barrier" = "intercom") {
  const subject = subjectFor(resident.userId, stack.deps.partners[partner].subjectKey);
  const sim = stack.sims[partner];
  return sim.recorder.opens().filter((record) => record.subject === subject).length;
}

async function metric(metrics: Instance["deps"]["metrics"], name: string, labels: string) {
  const text = await metrics.registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

/** Polls `check` until it holds or the deadline passes. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25); // a poll interval, not a wait for state
  }
}

describe("per resident: door and gate opens", () => {
  test("a burst above the open limit gets 429 with Retry-After, RateLimit and RateLimit-Policy; the partner sees none of the refused opens; another resident is unaffected", async () => {
    const abuser = await stack.resident("user-rl-burst");
    const neighbour = await stack.resident("user-rl-neighbour");
    await grant(abuser, ["intercom"]);
    await grant(neighbour, ["intercom"]);
    const auditBefore = await countAuditEvents(stack.database.db, { kind: "partner.request" });
    const limitedBefore = await metric(
      stack.deps.metrics,
      "propgate_rate_limited_total",
      'limit="open"',
    );

    const burst = async () => {
      const answers: RawAnswer[] = [];
      for (let i = 0; i < OPEN_LIMIT + 3; i++)
        answers.push(
          await mutate(stack.api.url, "intercom.openDoor", { deviceId: "door-a1" }, bearer(abuser)),
        );
      return answers;
    };
    const calm = () =>
      Promise.all(
        Array.from({ length: 2 }, () =>
          neighbour.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }),
        ),
      );
    const [answers, neighbourOpens] = await Promise.all([burst(), calm()]);

    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429, 429, 429]);
    // Normal responses of a limited route say what is left.
    expect(answers[0]?.headers.get("ratelimit")).toMatch(/"open";r=2;t=(59|60)\b/);
    expect(answers[0]?.headers.get("ratelimit-policy")).toContain(`"open";q=${OPEN_LIMIT};w=60`);
    expect(answers[2]?.headers.get("ratelimit")).toMatch(/"open";r=0;t=\d+/);

    for (const refused of answers.slice(OPEN_LIMIT)) {
      const retryAfter = Number(refused.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      const policy = refused.headers.get("ratelimit-policy") ?? "";
      expect(policy).toContain(`"open";q=${OPEN_LIMIT};w=60`);
      expect(policy).toContain(`"resident";q=${RESIDENT_LIMIT};w=60`);
      expect(refused.headers.get("ratelimit")).toContain(`"open";r=0;t=${retryAfter}`);
      expect(refused.body.error?.data).toMatchObject({
        code: "TOO_MANY_REQUESTS",
        httpStatus: 429,
        cause: { code: "RATE_LIMITED", retryAfterSeconds: retryAfter },
        requestId: refused.headers.get("x-request-id") ?? "missing",
      });
    }

    expect(neighbourOpens.map((open) => open.status)).toEqual(["opened", "opened"]);
    expect(opensOf(abuser)).toBe(OPEN_LIMIT);
    expect(opensOf(neighbour)).toBe(2);
    const auditAfter = await countAuditEvents(stack.database.db, { kind: "partner.request" });
    expect(auditAfter - auditBefore).toBe(OPEN_LIMIT + 2);
    expect(await metric(stack.deps.metrics, "propgate_rate_limited_total", 'limit="open"')).toBe(
      limitedBefore + 3,
    );

    // The open limit is the resident's, across doors and gates.
    await grant(abuser, ["barrier"]);
    const gate = await errorOf(abuser.trpc.barrier.open.mutate({ deviceId: "gate-a" }));
    expect(gate).toMatchObject({ code: "TOO_MANY_REQUESTS", cause: "RATE_LIMITED" });
    expect(opensOf(abuser, "barrier")).toBe(0);
  });

  test("every resident procedure counts against the per-resident limit", async () => {
    const resident = await stack.resident("user-rl-resident");
    const answers = [];
    for (let i = 0; i < RESIDENT_LIMIT + 1; i++)
      answers.push(await query(stack.api.url, "devices.list", bearer(resident)));
    expect(answers.slice(0, RESIDENT_LIMIT).every((a) => a.status === 200)).toBe(true);
    expect(answers[0]?.headers.get("ratelimit")).toContain(`"resident";r=${RESIDENT_LIMIT - 1};t=`);
    const refused = answers[RESIDENT_LIMIT];
    expect(refused?.status).toBe(429);
    // The per-IP item comes along: every limit the request counted against is reported.
    expect(refused?.headers.get("ratelimit-policy")).toBe(
      `"resident";q=${RESIDENT_LIMIT};w=60, "ip";q=600;w=60`,
    );
    expect(refused?.body.error.data.cause.code).toBe("RATE_LIMITED");
    const viaClient = await errorOf(resident.trpc.consent.list.query());
    expect(viaClient.httpStatus).toBe(429);
    expect(viaClient.data.cause?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // Opens are refused too, before the open limit or the partner is reached.
    const open = await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    expect(open.cause).toBe("RATE_LIMITED");
    expect(opensOf(resident)).toBe(0);
  });
});

describe("per client IP", () => {
  test("applies before authentication, counts the socket's address, and ignores X-Forwarded-For unless the peer is a trusted proxy", async () => {
    const direct = await instance("rl-ip-direct", { RATE_LIMIT_IP_PER_MINUTE: "4" });
    const answers = [];
    for (let i = 0; i < 5; i++)
      answers.push(
        await query(direct.api.url, "devices.list", { "x-forwarded-for": `192.0.2.${i}` }),
      );
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 429]);
    expect(answers[0]?.headers.get("ratelimit")).toBe('"ip";r=3;t=60');
    const refused = answers[4];
    expect(refused?.headers.get("ratelimit-policy")).toBe('"ip";q=4;w=60');
    expect(Number(refused?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused?.body.error).toMatchObject({
      code: -32029,
      data: { code: "TOO_MANY_REQUESTS", httpStatus: 429, cause: { code: "RATE_LIMITED" } },
    });
    expect(refused?.body.error.data.requestId).toBe(refused?.headers.get("x-request-id"));
    // A resident with a valid token behind the same address is refused as well.
    const resident = await stack.resident("user-rl-ip");
    expect((await errorOf(direct.client(resident.token).devices.list.query())).cause).toBe(
      "RATE_LIMITED",
    );
    // Health and metrics stay reachable for probes.
    expect((await fetch(`${direct.api.url}/healthz`)).status).toBe(200);
    expect(await metric(direct.deps.metrics, "propgate_rate_limited_total", 'limit="ip"')).toBe(2);

    const behindProxy = await instance("rl-ip-proxy", {
      RATE_LIMIT_IP_PER_MINUTE: "2",
      TRUST_PROXY_CIDRS: "127.0.0.0/8, ::1",
    });
    const from = async (chain: string) =>
      (await query(behindProxy.api.url, "devices.list", { "x-forwarded-for": chain })).status;
    expect([await from("198.51.100.7"), await from("198.51.100.7")]).toEqual([401, 401]);
    expect(await from("198.51.100.7")).toBe(429);
    // A forged left-hand entry does not give a fresh budget: the right-most untrusted hop counts.
    expect(await from("203.0.113.99, 198.51.100.7")).toBe(429);
    expect(await from("198.51.100.8")).toBe(401);
  });
});

describe("outbound per partner", () => {
  test("over the per-second limit a partner call fails fast with PARTNER_UNAVAILABLE and nothing is sent; the other partner is not affected", async () => {
    const api = await instance("rl-outbound", {
      RATE_LIMIT_OUTBOUND_PER_SECOND: "2",
      RATE_LIMIT_OPEN_PER_MINUTE: "100",
      RATE_LIMIT_RESIDENT_PER_MINUTE: "100",
    });
    const resident = await stack.resident("user-rl-outbound");
    await grant(resident, ["intercom", "barrier"]);
    const client = api.client(resident.token);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        client.intercom.openDoor.mutate({ deviceId: "door-a1" }).then(
          () => "opened" as const,
          async (error) => errorOf(Promise.reject(error)),
        ),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const opened = results.filter((r) => r === "opened").length;
    const refused = results.filter((r) => r !== "opened");
    // 2 per one-second window; a slow burst may touch more than one window.
    expect(opened).toBeGreaterThanOrEqual(2);
    expect(opened).toBeLessThanOrEqual(2 * (Math.ceil(seconds) + 1));
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const error of refused) {
      expect(error).toMatchObject({ code: "SERVICE_UNAVAILABLE", cause: "PARTNER_UNAVAILABLE" });
      if (typeof error === "object") expect(error.data.cause?.retryAfterSeconds).toBe(1);
    }
    expect(opensOf(resident)).toBe(opened);
    expect(await metric(api.deps.metrics, "propgate_rate_limited_total", 'limit="outbound"')).toBe(
      refused.length,
    );
    expect(
      await metric(api.deps.metrics, "propgate_partner_requests_total", 'outcome="not_sent"'),
    ).toBe(refused.length);
    expect(await client.barrier.open.mutate({ deviceId: "gate-a" })).toMatchObject({
      status: "opened",
    });
  });
});

describe("per partner client (for the inbound partner surface)", () => {
  test("the middleware limits each partner client by its id and answers with the HTTP error shape", async () => {
    const app = new Hono();
    app.use(
      partnerClientRateLimit(stack.deps.rateLimits, {
        clientId: (c) => c.req.header("x-test-client"),
        requestId: () => "req_test",
      }),
    );
    app.post("/partner/v1/events", (c) => c.json({ accepted: true }));
    const send = (client?: string) =>
      app.request("/partner/v1/events", {
        method: "POST",
        headers: client ? { "x-test-client": client } : {},
      });
    const statuses = [];
    for (let i = 0; i < PARTNER_CLIENT_LIMIT; i++) {
      const response = await send("partner-a");
      statuses.push(response.status);
      expect(response.headers.get("ratelimit")).toContain(
        `"partner_client";r=${PARTNER_CLIENT_LIMIT - 1 - i};t=`,
      );
    }
    const refused = await send("partner-a");
    expect([...statuses, refused.status]).toEqual([200, 200, 200, 429]);
    expect(refused.headers.get("ratelimit-policy")).toBe(
      `"partner_client";q=${PARTNER_CLIENT_LIMIT};w=60`,
    );
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toEqual({
      error: {
        code: "RATE_LIMITED",
        message: expect.any(String),
        requestId: "req_test",
        retryAfterSeconds: retryAfter,
      },
    });
    expect((await send("partner-b")).status).toBe(200);
  });
});

describe("shared through Redis", () => {
  const prefix = `propgate-test:${process.pid}-${Date.now().toString(36)}:`;
  afterAll(async () => {
    if (!REDIS_URL) return;
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    await redis.connect();
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  const redisUp = async (api: Instance) =>
    (await metric(api.deps.metrics, "propgate_rate_limit_backend_up", 'backend="redis"')) === 1;

  test.skipIf(!REDIS_URL && !IN_CI)(
    "two api instances sharing Redis enforce one combined open limit",
    async () => {
      if (!REDIS_URL) throw new Error("the shared rate-limit test needs Redis (REDIS_URL) in CI");
      const env = {
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        RATE_LIMIT_OPEN_PER_MINUTE: "4",
        RATE_LIMIT_RESIDENT_PER_MINUTE: "100",
      };
      const a = await instance("rl-redis-a", env);
      const b = await instance("rl-redis-b", env);
      await eventually(async () => (await redisUp(a)) && (await redisUp(b)), "Redis connections");
      const resident = await stack.resident("user-rl-shared");
      await grant(resident, ["intercom"]);
      const outcomes: number[] = [];
      for (let i = 0; i < 8; i++) {
        const api = i % 2 === 0 ? a : b;
        const answer = await mutate(
          api.api.url,
          "intercom.openDoor",
          { deviceId: "door-a1" },
          bearer(resident),
        );
        outcomes.push(answer.status);
      }
      // Alone, each instance would allow 4 (8 in all); together they allow 4.
      expect(outcomes).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
      expect(opensOf(resident)).toBe(4);
      for (const api of [a, b])
        expect(
          await metric(api.deps.metrics, "propgate_rate_limit_redis_fallback_total", "limit="),
        ).toBe(0);
    },
  );

  test("Redis unreachable: each instance still applies the limit locally and the fallback metric rises", async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const address = server.address();
        const port = typeof address === "object" && address ? address.port : 0;
        server.close(() => resolve(port));
      });
    });
    const api = await instance("rl-redis-down", {
      REDIS_URL: `redis://127.0.0.1:${closedPort}`,
      REDIS_KEY_PREFIX: prefix,
      RATE_LIMIT_OPEN_PER_MINUTE: "2",
      RATE_LIMIT_RESIDENT_PER_MINUTE: "100",
    });
    const resident = await stack.resident("user-rl-redis-down");
    await grant(resident, ["intercom"]);
    const client = api.client(resident.token);
    await client.intercom.openDoor.mutate({ deviceId: "door-a1" });
    await client.intercom.openDoor.mutate({ deviceId: "door-a1" });
    const refused = await errorOf(client.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    expect(refused).toMatchObject({ httpStatus: 429, cause: "RATE_LIMITED" });
    expect(opensOf(resident)).toBe(2);
    const fallback = (limit: string) =>
      metric(api.deps.metrics, "propgate_rate_limit_redis_fallback_total", `limit="${limit}"`);
    expect(await fallback("open")).toBe(3);
    expect(await fallback("ip")).toBeGreaterThanOrEqual(3);
    expect(await fallback("outbound")).toBe(2);
    expect(await redisUp(api)).toBe(false);
    const body = await (await fetch(`${api.metrics?.url}/metrics`)).text();
    expect(body).toContain('propgate_rate_limit_backend_up{backend="redis",app="api"} 0');
    const warnings = api.logs.filter((line) => String(line.msg).includes("rate-limit redis"));
    expect(warnings).toHaveLength(1);
  });
});
