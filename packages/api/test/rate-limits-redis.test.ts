import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import {
  createRateLimits,
  LIMIT_NAMES,
  type LimitName,
  type LimitPolicy,
  type RateLimits,
} from "../src/rate-limits/limits.ts";
import { closeRedis, openRedis } from "../src/redis-connection.ts";
import { eventually } from "./fixtures/eventually.ts";
import { type Observed, observed } from "./fixtures/observed.ts";
import { redisRelay } from "./fixtures/redis-relay.ts";

/**
 * The limits on Redis (REDIS_URL): one count for every instance sharing it, and, while Redis is
 * out of reach, each instance's own insurance limit of the same quota, counted and logged.
 */
const REDIS_URL = process.env.REDIS_URL;
const IN_CI = process.env.CI === "true";
if (!REDIS_URL && !IN_CI)
  console.warn("[skip] rate limits shared through Redis: set REDIS_URL to run those tests");
const needsRedis = test.skipIf(!REDIS_URL && !IN_CI);
const redisUrl = () => {
  if (!REDIS_URL) throw new Error("these tests need Redis (REDIS_URL) in CI");
  return REDIS_URL;
};

const FILE_PREFIX = `propgate-test:rate-limits:${crypto.randomUUID()}:`;
const ROOMY: LimitPolicy = { quota: 1000, windowSeconds: 60 };

/** One api instance's limits on its own connection; closed after each test. */
interface LimitsInstance extends Observed {
  rateLimits: RateLimits;
  redis: Redis;
}
const started: LimitsInstance[] = [];
afterEach(async () => {
  for (const instance of started.splice(0)) {
    await instance.rateLimits.close();
    closeRedis(instance.redis);
  }
});
afterAll(async () => {
  if (!REDIS_URL) return;
  const redis = new Redis(REDIS_URL);
  for await (const keys of redis.scanStream({ match: `${FILE_PREFIX}*`, count: 500 }))
    if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

function instance(
  url: string,
  keyPrefix: string,
  policies: Partial<Record<LimitName, LimitPolicy>>,
): LimitsInstance {
  const services = observed();
  const redis = openRedis(url);
  const all = Object.fromEntries(LIMIT_NAMES.map((limit) => [limit, policies[limit] ?? ROOMY]));
  const rateLimits = createRateLimits(
    { policies: all as Record<LimitName, LimitPolicy>, keyPrefix },
    { ...services, redis },
  );
  const created = { ...services, rateLimits, redis };
  started.push(created);
  return created;
}

const ready = (redis: Redis) =>
  eventually("the Redis connection is ready", () => redis.status === "ready");
const testPrefix = () => `${FILE_PREFIX}${crypto.randomUUID()}:`;

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

describe("shared through Redis", () => {
  needsRedis(
    "two instances on one Redis enforce one combined count, with the RateLimit figures of it",
    async () => {
      const prefix = testPrefix();
      const a = instance(redisUrl(), prefix, { open: { quota: 4, windowSeconds: 60 } });
      const b = instance(redisUrl(), prefix, { open: { quota: 4, windowSeconds: 60 } });
      await ready(a.redis);
      await ready(b.redis);
      expect(a.rateLimits.backend).toBe("redis");
      const decisions = [];
      for (let i = 0; i < 6; i++)
        decisions.push(await (i % 2 === 0 ? a : b).rateLimits.consume("open", "usr_shared"));
      // Alone, each would allow 4 (8 in all); together they allow 4.
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, false, false]);
      expect(decisions.map((d) => d.remaining)).toEqual([3, 2, 1, 0, 0, 0]);
      for (const decision of decisions) {
        expect(decision.resetSeconds).toBeGreaterThanOrEqual(decision.allowed ? 59 : 1);
        expect(decision.resetSeconds).toBeLessThanOrEqual(60);
      }
      // Another key, and the same key under another limit, count apart.
      expect((await a.rateLimits.consume("open", "usr_other")).remaining).toBe(3);
      expect((await a.rateLimits.consume("resident", "usr_shared")).remaining).toBe(999);
      for (const side of [a, b]) {
        expect(await side.metric("propgate_rate_limit_redis_fallback_total")).toBe(0);
        expect(await side.metric("propgate_rate_limit_backend_up", { backend: "redis" })).toBe(1);
      }
      expect(await a.metric("propgate_rate_limited_total", { limit: "open" })).toBe(1);
      expect(await b.metric("propgate_rate_limited_total", { limit: "open" })).toBe(1);
    },
  );
});

describe("Redis out of reach", () => {
  test("each decision falls to the local insurance limit of the same quota, counted per limit; one warning for the outage", async () => {
    const down = instance(`redis://127.0.0.1:${await closedPort()}`, testPrefix(), {
      open: { quota: 2, windowSeconds: 60 },
    });
    let failures = 0;
    down.redis.on("error", () => failures++);
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await down.rateLimits.consume("open", "usr_a"));
    expect(decisions.map((d) => [d.allowed, d.remaining])).toEqual([
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    expect(decisions[2]?.resetSeconds).toBe(60);
    expect(await down.metric("propgate_rate_limit_redis_fallback_total", { limit: "open" })).toBe(
      3,
    );
    expect(await down.metric("propgate_rate_limited_total", { limit: "open" })).toBe(1);
    expect(await down.metric("propgate_rate_limit_backend_up", { backend: "redis" })).toBe(0);
    // Several failed reconnects, one line.
    await eventually("two failed connection attempts", () => failures >= 2);
    const warnings = down.logs.filter((line) => String(line.msg).startsWith("rate-limit redis"));
    expect(warnings).toEqual([
      expect.objectContaining({
        level: "warn",
        msg: "rate-limit redis unavailable: each instance applies its local insurance limits",
      }),
    ]);
  });

  needsRedis(
    "Redis lost and back: local limits meanwhile, then the shared count again and one line each way",
    async () => {
      const relay = redisRelay(redisUrl());
      await relay.open();
      const limits = instance(relay.url, testPrefix(), { open: { quota: 3, windowSeconds: 60 } });
      await ready(limits.redis);
      expect((await limits.rateLimits.consume("open", "usr_a")).remaining).toBe(2);
      const fallback = () => limits.metric("propgate_rate_limit_redis_fallback_total");
      const up = () => limits.metric("propgate_rate_limit_backend_up", { backend: "redis" });
      expect(await fallback()).toBe(0);

      await relay.cut();
      await eventually("the backend gauge drops", async () => (await up()) === 0);
      // The insurance limiter counts from zero, this instance alone.
      const meanwhile = [];
      for (let i = 0; i < 4; i++) meanwhile.push(await limits.rateLimits.consume("open", "usr_a"));
      expect(meanwhile.map((d) => d.allowed)).toEqual([true, true, true, false]);
      expect(await fallback()).toBe(4);

      await relay.open();
      await ready(limits.redis);
      expect(await up()).toBe(1);
      // Back on Redis: its count went on from where it was, no insurance any more.
      expect((await limits.rateLimits.consume("open", "usr_a")).remaining).toBe(1);
      expect(await fallback()).toBe(4);
      expect(
        limits.logs
          .map((line) => line.msg)
          .filter((msg) => String(msg).startsWith("rate-limit redis")),
      ).toEqual([
        "rate-limit redis unavailable: each instance applies its local insurance limits",
        "rate-limit redis reachable again: limits are shared once more",
      ]);
      await relay.cut();
    },
  );
});
