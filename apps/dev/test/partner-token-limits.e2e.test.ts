import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  closeRedis,
  createRateLimits,
  LIMIT_NAMES,
  type LimitName,
  openRedis,
  type RateLimits,
} from "@propgate/api";
import { listAnomalies } from "@propgate/consent-audit";
import { createMetrics, type Metrics } from "@propgate/observability";
import {
  loadApiEnv,
  type PartnerSurfaceConfig,
  type PartnerSurfaceDeps,
  type RunningPartnerSurface,
  servePartnerSurface,
} from "@propgate/server";
import { startTestStack, type TestStack } from "../src/testing/harness.ts";
import { requestFrom } from "./fixtures/request-from.ts";

/**
 * Issue 12, finding 2: the partner token endpoint's own limits (invariant 7). Every secret check
 * is an argon2id verification in the process that serves residents, so requests are counted per
 * peer address and per client id before it, and only a few checks run at once.
 */

const IN_CI = process.env.CI === "true";
const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL && !IN_CI)
  console.warn("[skip] token limits shared through Redis: set REDIS_URL to run that test");

const cheapHash = (secret: string) =>
  Bun.password.hash(secret, { algorithm: "argon2id", memoryCost: 4096, timeCost: 1 });
/** Costlier (tens of ms here), so that concurrent checks surely overlap. */
const slowHash = (secret: string) =>
  Bun.password.hash(secret, { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 });

const secret = (name: string) => `${name}-secret-${crypto.randomUUID()}`;
const CLIENTS = {
  burst: { clientId: "ic-limits-burst", secret: secret("burst") },
  other: { clientId: "ic-limits-other", secret: secret("other") },
  guessed: { clientId: "ic-limits-guessed", secret: secret("guessed") },
  slow: { clientId: "ic-limits-slow", secret: secret("slow") },
};
type Client = { clientId: string; secret: string };

let dir: string;
let stack: TestStack;
let config: PartnerSurfaceConfig;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "propgate-token-limits-"));
  const clientsFile = join(dir, "partner-clients.json");
  const record = async (client: Client, hash = cheapHash) => ({
    clientId: client.clientId,
    secretHash: await hash(client.secret),
    partner: "intercom",
    scopes: ["access.check"],
    addresses: ["127.0.0.1"],
  });
  writeFileSync(
    clientsFile,
    JSON.stringify([
      await record(CLIENTS.burst),
      await record(CLIENTS.other),
      await record(CLIENTS.guessed),
      await record(CLIENTS.slow, slowHash),
    ]),
    { mode: 0o600 },
  );
  stack = await startTestStack({
    env: {
      PARTNER_LISTEN: "127.0.0.1:0",
      PARTNER_ALLOWED_CIDRS: "127.0.0.0/8",
      PARTNER_CLIENTS_FILE: clientsFile,
      RATE_LIMIT_PARTNER_TOKEN_PER_CLIENT_PER_MINUTE: "5",
      RATE_LIMIT_PARTNER_TOKEN_PER_PEER_PER_MINUTE: "1000",
      ANOMALY_TOKEN_FAILURES_PER_5_MINUTES: "3",
    },
  });
  const loaded = loadApiEnv(stack.env).partnerSurface;
  if (!loaded) throw new Error("no partner surface config");
  config = loaded;
});

afterAll(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
  ms: number;
}

async function tokenRequest(base: string, client: Client): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${base}/oauth/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${btoa(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.secret)}`)}`,
    },
    body: "grant_type=client_credentials",
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text ? JSON.parse(text) : {},
    ms: performance.now() - started,
  };
}

/** `tokenRequest` from another local address (a second VPN peer). */
async function tokenRequestFrom(
  localAddress: string,
  base: string,
  client: Client,
): Promise<Answer> {
  const started = performance.now();
  const answer = await requestFrom(localAddress, `${base}/oauth/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${btoa(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.secret)}`)}`,
    },
    body: "grant_type=client_credentials",
  });
  return {
    status: answer.status,
    headers: answer.headers,
    json: answer.text ? JSON.parse(answer.text) : {},
    ms: performance.now() - started,
  };
}

/** The sum of a metric's series with these labels; 0 while it has none (or does not exist). */
async function metricSum(
  name: string,
  labels: Record<string, string> = {},
  metrics: Metrics = stack.deps.metrics,
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((row) =>
      Object.entries(labels).every(
        ([key, value]) => (row.labels as Record<string, unknown>)[key] === value,
      ),
    )
    .reduce((sum, row) => sum + row.value, 0);
}

const verifications = () => metricSum("propgate_partner_token_verifications_total");
const rateLimited = (limit: LimitName) => metricSum("propgate_rate_limited_total", { limit });

const ROOMY = { quota: 100_000, windowSeconds: 60 };

/**
 * A second surface on the stack's database and metrics with limits and settings of its own, and
 * no anomaly rules (its tests fail sign-ins on purpose; the stack's rules would block loopback).
 */
function surfaceWith(
  limits: Partial<Record<LimitName, number>>,
  settings: Partial<PartnerSurfaceConfig> = {},
  options: { redisUrl?: string; keyPrefix?: string; metrics?: Metrics } = {},
): RunningPartnerSurface & { rateLimits: RateLimits; metrics: Metrics } {
  const metrics = options.metrics ?? stack.deps.metrics;
  const policies = Object.fromEntries(
    LIMIT_NAMES.map((limit) => [
      limit,
      limits[limit] ? { quota: limits[limit], windowSeconds: 60 } : ROOMY,
    ]),
  ) as Record<LimitName, typeof ROOMY>;
  const redis = options.redisUrl ? openRedis(options.redisUrl) : null;
  const rateLimits = createRateLimits(
    { policies, keyPrefix: options.keyPrefix ?? `token-limits-${crypto.randomUUID()}:` },
    { metrics, logger: stack.deps.logger, redis },
  );
  const deps: PartnerSurfaceDeps = {
    database: stack.deps.database,
    logger: stack.deps.logger,
    metrics,
    instanceId: stack.deps.settings.instanceId,
    rateLimits,
  };
  const running = servePartnerSurface(deps, {
    ...config,
    ...settings,
    listen: { hostname: "127.0.0.1", port: 0 },
  });
  return {
    url: running.url,
    rateLimits,
    metrics,
    async stop() {
      await running.stop();
      await rateLimits.close();
      if (redis) closeRedis(redis);
    },
  };
}

/** The largest value `read` returned while `work` ran, sampled at every turn of the event loop. */
async function peakDuring<T>(
  read: () => Promise<number>,
  work: () => Promise<T>,
): Promise<{ peak: number; result: T }> {
  let peak = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, await read());
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  try {
    const result = await work();
    running = false;
    await sampler;
    return { peak, result };
  } finally {
    running = false;
    await sampler;
  }
}

function expectSlowDown(answer: Answer, limit: LimitName) {
  expect(answer.status).toBe(429);
  expect(answer.json).toEqual({
    error: "slow_down",
    error_description: expect.stringMatching(/^too many requests, try again in \d+ s$/),
  });
  const retryAfter = Number(answer.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(answer.headers.get("cache-control")).toBe("no-store");
  expect(answer.headers.get("ratelimit-policy")).toContain(`"${limit}";q=`);
  expect(answer.headers.get("ratelimit")).toContain(`"${limit}";r=0;t=`);
}

describe("POST /oauth/token per client id (RATE_LIMIT_PARTNER_TOKEN_PER_CLIENT_PER_MINUTE)", () => {
  test("a burst past the limit: 429 slow_down with Retry-After, before any secret is checked", async () => {
    const surface = stack.partnerSurface;
    if (!surface) throw new Error("the stack started without its partner surface");
    const checkedBefore = await verifications();
    const refusedBefore = await rateLimited("partner_token_client");

    const granted: Answer[] = [];
    for (let i = 0; i < 5; i++) granted.push(await tokenRequest(surface.url, CLIENTS.burst));
    expect(granted.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);

    // The rest of the burst, right secrets and guesses alike, is refused unchecked.
    const burst = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        tokenRequest(
          surface.url,
          i % 2 ? CLIENTS.burst : { clientId: CLIENTS.burst.clientId, secret: `guess-${i}` },
        ),
      ),
    );
    for (const answer of burst) {
      expectSlowDown(answer, "partner_token_client");
      // The peer's own limit was counted first and is reported next to the client's.
      expect(answer.headers.get("ratelimit-policy")).toContain('"partner_token_peer";q=1000;w=60');
    }
    expect((await verifications()) - checkedBefore).toBe(5);
    expect((await rateLimited("partner_token_client")) - refusedBefore).toBe(10);
    // Answers under the limit carry the same fields, so a partner can slow down in time.
    expect(granted[0]?.headers.get("ratelimit-policy")).toBe(
      '"partner_token_peer";q=1000;w=60, "partner_token_client";q=5;w=60',
    );
    expect(granted[4]?.headers.get("ratelimit")).toContain('"partner_token_client";r=0;t=');

    // A guess refused unchecked is no failed sign-in: nothing for the anomaly rules.
    await stack.deps.watch.settle();
    const anomalies = await listAnomalies(stack.database.db, {
      kind: "partner_credential_guessing",
      subjectId: CLIENTS.burst.clientId,
    });
    expect(anomalies).toEqual([]);

    // Another client under its limit, from the same address, still gets its token.
    const other = await tokenRequest(surface.url, CLIENTS.other);
    expect(other.status).toBe(200);
    expect(other.json).toMatchObject({ token_type: "Bearer", scope: "access.check" });
  });

  test("failed sign-ins under the limits are still counted by the anomaly rules, and block the guessing peer", async () => {
    const surface = stack.partnerSurface;
    if (!surface) throw new Error("the stack started without its partner surface");
    // A second VPN peer (a loopback alias) tries the client's id with wrong secrets.
    const wrong = { clientId: CLIENTS.guessed.clientId, secret: "not-the-secret" };
    for (let i = 0; i < 3; i++)
      expect((await tokenRequestFrom("127.0.0.2", surface.url, wrong)).status).toBe(401);
    await stack.deps.watch.settle();
    const [anomaly] = await listAnomalies(stack.database.db, {
      kind: "partner_credential_guessing",
      subjectId: "127.0.0.2",
    });
    expect(anomaly).toMatchObject({ subjectType: "ip" });
    const blocked = await tokenRequestFrom("127.0.0.2", surface.url, CLIENTS.guessed);
    expect(blocked.status).toBe(403);
    expect(blocked.json).toMatchObject({ error: { code: "BLOCKED" } });
    // The client whose id was tried is not the offender: from its own address it is served.
    expect((await tokenRequest(surface.url, CLIENTS.guessed)).status).toBe(200);
  });
});

describe("POST /oauth/token per peer address (RATE_LIMIT_PARTNER_TOKEN_PER_PEER_PER_MINUTE)", () => {
  test("one address is limited across client ids, unknown and malformed ones included", async () => {
    const surface = surfaceWith({ partner_token_peer: 8 });
    try {
      const checkedBefore = await verifications();
      const refusedBefore = await rateLimited("partner_token_peer");
      const tries: Client[] = [
        ...Array.from({ length: 6 }, (_, i) => ({
          clientId: `nobody-${i}-${crypto.randomUUID().slice(0, 8)}`,
          secret: "guess",
        })),
        { clientId: "not a client id!", secret: "guess" },
        CLIENTS.other,
      ];
      const answers: Answer[] = [];
      for (const client of tries) answers.push(await tokenRequest(surface.url, client));
      expect(answers.map((answer) => answer.status)).toEqual([
        401, 401, 401, 401, 401, 401, 401, 200,
      ]);

      // Past it, every id from that address is refused, the registered one with its secret too.
      const over = [
        { clientId: "nobody-more", secret: "guess" },
        { clientId: "nobody-else", secret: "guess" },
        CLIENTS.other,
      ];
      for (const client of over)
        expectSlowDown(await tokenRequest(surface.url, client), "partner_token_peer");
      expect((await verifications()) - checkedBefore).toBe(8);
      expect((await rateLimited("partner_token_peer")) - refusedBefore).toBe(3);
    } finally {
      await surface.stop();
    }
  });
});

describe("concurrent secret checks (PARTNER_TOKEN_MAX_CONCURRENT_VERIFICATIONS)", () => {
  const inFlight = () => metricSum("propgate_partner_token_verifications_in_flight");
  const waiting = () => metricSum("propgate_partner_token_verifications_waiting");

  test("at most the cap verify at once; the others wait their turn and get their tokens", async () => {
    const surface = surfaceWith({}, { maxConcurrentVerifications: 2, verificationQueue: 100 });
    try {
      const checkedBefore = await verifications();
      let peakWaiting = 0;
      const { peak, result } = await peakDuring(
        async () => {
          peakWaiting = Math.max(peakWaiting, await waiting());
          return inFlight();
        },
        () =>
          Promise.all(Array.from({ length: 12 }, () => tokenRequest(surface.url, CLIENTS.slow))),
      );
      expect(result.map((answer) => answer.status)).toEqual(Array(12).fill(200));
      expect(peak).toBe(2);
      expect(peakWaiting).toBeGreaterThan(0);
      expect((await verifications()) - checkedBefore).toBe(12);
      expect([await inFlight(), await waiting()]).toEqual([0, 0]);
    } finally {
      await surface.stop();
    }
  });

  test("past the cap and its queue: 503 temporarily_unavailable with Retry-After, unchecked", async () => {
    const surface = surfaceWith({}, { maxConcurrentVerifications: 1, verificationQueue: 2 });
    try {
      const checkedBefore = await verifications();
      const busyBefore = await metricSum("propgate_partner_surface_refused_total", {
        reason: "verifications_busy",
      });
      let peakWaiting = 0;
      const { peak, result } = await peakDuring(
        async () => {
          peakWaiting = Math.max(peakWaiting, await waiting());
          return inFlight();
        },
        () =>
          Promise.all(Array.from({ length: 12 }, () => tokenRequest(surface.url, CLIENTS.slow))),
      );
      const granted = result.filter((answer) => answer.status === 200);
      const busy = result.filter((answer) => answer.status === 503);
      expect(granted.length + busy.length).toBe(12);
      expect(busy.length).toBeGreaterThan(0);
      for (const answer of busy) {
        expect(answer.json).toEqual({
          error: "temporarily_unavailable",
          error_description: "too many token requests are being checked, try again in 1 s",
        });
        expect(answer.headers.get("retry-after")).toBe("1");
        expect(answer.headers.get("cache-control")).toBe("no-store");
      }
      expect(peak).toBe(1);
      expect(peakWaiting).toBeLessThanOrEqual(2);
      expect((await verifications()) - checkedBefore).toBe(granted.length);
      expect(
        (await metricSum("propgate_partner_surface_refused_total", {
          reason: "verifications_busy",
        })) - busyBefore,
      ).toBe(busy.length);
    } finally {
      await surface.stop();
    }
  });
});

describe("settings", () => {
  test("defaults: 30 per client id and 60 per peer a minute, 2 checks at once, 8 waiting", () => {
    const {
      RATE_LIMIT_PARTNER_TOKEN_PER_CLIENT_PER_MINUTE: _client,
      RATE_LIMIT_PARTNER_TOKEN_PER_PEER_PER_MINUTE: _peer,
      ...unset
    } = stack.env;
    const env = loadApiEnv(unset);
    expect(env.RATE_LIMIT_PARTNER_TOKEN_PER_CLIENT_PER_MINUTE).toBe(30);
    expect(env.RATE_LIMIT_PARTNER_TOKEN_PER_PEER_PER_MINUTE).toBe(60);
    expect(env.partnerSurface).toMatchObject({
      maxConcurrentVerifications: 2,
      verificationQueue: 8,
    });
  });
});

describe("shared through Redis", () => {
  test.skipIf(!REDIS_URL && !IN_CI)("two instances share one count per client id", async () => {
    if (!REDIS_URL) throw new Error("the shared token-limit test needs Redis (REDIS_URL) in CI");
    const keyPrefix = `propgate-test:token-limits-${crypto.randomUUID()}:`;
    const [a, b] = [1, 2].map(() =>
      surfaceWith(
        { partner_token_client: 3 },
        {},
        { redisUrl: REDIS_URL, keyPrefix, metrics: createMetrics({ app: "test" }) },
      ),
    ) as [ReturnType<typeof surfaceWith>, ReturnType<typeof surfaceWith>];
    try {
      // Until its connection is ready, each would count alone (the insurance limiter).
      const deadline = Date.now() + 5000;
      const up = async (surface: typeof a) =>
        (await metricSum(
          "propgate_rate_limit_backend_up",
          { backend: "redis" },
          surface.metrics,
        )) === 1;
      while (!((await up(a)) && (await up(b)))) {
        if (Date.now() > deadline) throw new Error("Redis connections not ready within 5 s");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const statuses: number[] = [];
      for (const surface of [a, b, a])
        statuses.push((await tokenRequest(surface.url, CLIENTS.other)).status);
      expect(statuses).toEqual([200, 200, 200]);
      expectSlowDown(await tokenRequest(b.url, CLIENTS.other), "partner_token_client");
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
