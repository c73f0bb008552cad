import { afterAll, afterEach, describe, expect, setSystemTime, test } from "bun:test";
import { createServer } from "node:net";
import {
  type AuditContext,
  createBlockList,
  liftBlock,
  listAnomalies,
  listAuditEvents,
  listBlocks,
} from "@propgate/consent-audit";
import { createTestDatabase } from "@propgate/consent-audit/testing";
import type { AnomalyKind, BlockSubjectType } from "@propgate/domain";
import { Redis } from "ioredis";
import { BlockedError } from "../src/errors.ts";
import { closeRedis, openRedis } from "../src/redis-connection.ts";
import { type RulePolicy, WATCH_RULES, type WatchRule } from "../src/watch/rules.ts";
import { createWatch, type Watch, type WatchSettings } from "../src/watch/watch.ts";
import { eventually } from "./fixtures/eventually.ts";
import { type Observed, observed } from "./fixtures/observed.ts";

/**
 * Every anomaly rule of `WATCH_RULES` in-process on a real database: the count that fires it,
 * the anomaly, metric and log line it gives, the block it places or not, how blocks end and
 * double; and its counts shared through Redis, or this instance's own while Redis is away.
 * The clock is bun's (`setSystemTime`): windows and block ends are reached without waiting.
 */
const database = await createTestDatabase();
const REDIS_URL = process.env.REDIS_URL;
const IN_CI = process.env.CI === "true";
const needsRedis = test.skipIf(!REDIS_URL && !IN_CI);
const FILE_PREFIX = `propgate-test:watch:${crypto.randomUUID()}:`;
afterAll(async () => {
  setSystemTime();
  await database.close();
  if (!REDIS_URL) return;
  const redis = new Redis(REDIS_URL);
  for await (const keys of redis.scanStream({ match: `${FILE_PREFIX}*`, count: 500 }))
    if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/** Midnight UTC: the start of a 1-, 5- and 10-minute window alike. */
const T0 = Date.UTC(2030, 0, 1);
let now = T0;
function at(ms: number) {
  now = ms;
  setSystemTime(new Date(now));
}

const THRESHOLD = 3;
const BASE_SECONDS = 900;
const MAX_SECONDS = 2000;
const perMinute = (threshold: number): RulePolicy => ({ threshold, windowSeconds: 60 });
function settingsWith(rules: Partial<Record<WatchRule, RulePolicy>> = {}): WatchSettings {
  const all = Object.fromEntries(
    Object.keys(WATCH_RULES).map((rule) => [
      rule,
      rules[rule as WatchRule] ?? perMinute(THRESHOLD),
    ]),
  );
  return {
    rules: all as Record<WatchRule, RulePolicy>,
    blockBaseSeconds: BASE_SECONDS,
    blockMaxSeconds: MAX_SECONDS,
    keyPrefix: FILE_PREFIX,
  };
}

const AUDIT: AuditContext = { sourceApp: "api", instanceId: "api-test", actor: "propgate" };
interface Watching extends Observed {
  watch: Watch;
  redis: Redis | null;
}
const running: Array<{ watch: Watch; redis: Redis | null }> = [];
afterEach(async () => {
  for (const { watch, redis } of running.splice(0)) {
    await watch.close();
    await watch.blocks.close();
    if (redis) closeRedis(redis);
  }
});

/** One instance's watch, on the test database and, given a URL, its own Redis connection. */
async function watching(settings = settingsWith(), redisUrl?: string): Promise<Watching> {
  const services = observed();
  const blocks = await createBlockList(database);
  const redis = redisUrl ? openRedis(redisUrl) : null;
  const watch = createWatch(settings, { database, blocks, ...services, audit: AUDIT, redis });
  running.push({ watch, redis });
  return { watch, redis, ...services };
}

/** Each event judged (and its hit stored) before the next, as the rules see them one by one. */
async function observe(
  watch: Watch,
  rule: WatchRule,
  subjectId: string,
  members: Array<string | undefined>,
) {
  for (const member of members) {
    watch.observe(rule, subjectId, member);
    await watch.settle();
  }
}
const times = <T>(n: number, each: (i: number) => T): T[] =>
  Array.from({ length: n }, (_, i) => each(i));

let subjects = 0;
/** A subject of its own for each test (the database is the file's). */
function newSubject(type: BlockSubjectType): string {
  subjects++;
  if (type === "ip") return `203.0.113.${subjects}`;
  return type === "resident" || type === "resident_keys"
    ? `usr_watch_${subjects}`
    : `client-watch-${subjects}`;
}

function blockedBy(watch: Watch, type: BlockSubjectType, id: string): BlockedError | null {
  try {
    watch.enforce(type, id);
    return null;
  } catch (error) {
    if (error instanceof BlockedError) return error;
    throw error;
  }
}

/** The rules as the owner decided them (invariant 7): who is counted, what it is, who is blocked. */
const EXPECTED: Record<
  WatchRule,
  {
    kind: AnomalyKind;
    subjectType: BlockSubjectType;
    blocks: boolean;
    /** `distinct`: members counted once each; `per member`: counted per (subject, member). */
    counts: "events" | "distinct" | "per member";
  }
> = {
  access_checks: {
    kind: "mass_access_checks",
    subjectType: "partner_client",
    blocks: true,
    counts: "events",
  },
  access_check_subjects: {
    kind: "mass_access_checks",
    subjectType: "partner_client",
    blocks: true,
    counts: "distinct",
  },
  refused_targets: {
    kind: "enumeration",
    subjectType: "resident",
    blocks: true,
    counts: "distinct",
  },
  opens: { kind: "unusual_opening", subjectType: "resident", blocks: true, counts: "events" },
  auth_failures: {
    kind: "credential_guessing",
    subjectType: "ip",
    blocks: true,
    counts: "events",
  },
  token_failures_client: {
    kind: "partner_credential_guessing",
    subjectType: "ip",
    blocks: true,
    counts: "per member",
  },
  token_failures_peer: {
    kind: "partner_credential_guessing",
    subjectType: "ip",
    blocks: true,
    counts: "events",
  },
  consent_refusals: {
    kind: "consent_probing",
    subjectType: "resident",
    blocks: false,
    counts: "events",
  },
  outside_vpn: { kind: "outside_vpn", subjectType: "ip", blocks: false, counts: "events" },
  key_creations: {
    kind: "mass_key_creation",
    subjectType: "resident_keys",
    blocks: true,
    counts: "events",
  },
};

describe("each rule", () => {
  test("the table below covers every rule of WATCH_RULES, as declared", () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(Object.keys(WATCH_RULES).sort());
    for (const [rule, spec] of Object.entries(WATCH_RULES)) {
      const expected = EXPECTED[rule as WatchRule];
      expect({ rule, kind: spec.kind, subject: spec.subject, blocks: spec.blocks }).toEqual({
        rule,
        kind: expected.kind,
        subject: expected.subjectType,
        blocks: expected.blocks,
      });
    }
  });

  for (const [rule, expected] of Object.entries(EXPECTED) as Array<
    [WatchRule, (typeof EXPECTED)[WatchRule]]
  >) {
    const reaction = expected.blocks
      ? `blocks the ${expected.subjectType} for ${BASE_SECONDS} s`
      : "records and counts it, never blocks";
    test(`${rule}: ${THRESHOLD} ${expected.counts === "events" ? "events" : "distinct members"} in a window fire ${expected.kind}; ${reaction}`, async () => {
      at(T0 + 1_000);
      const { watch, metric, lines } = await watching();
      const { kind, subjectType } = expected;
      const subject = newSubject(subjectType);
      // The client id a peer tries (per member), or a different device / subject each time.
      const member = (i: number) =>
        expected.counts === "events"
          ? undefined
          : expected.counts === "per member"
            ? "ic-tried"
            : `member-${i}`;

      await observe(watch, rule, subject, times(THRESHOLD - 1, member));
      if (expected.counts === "distinct")
        await observe(
          watch,
          rule,
          subject,
          times(5, () => member(0)),
        );
      expect(await listAnomalies(database.db, { subjectId: subject })).toEqual([]);
      expect(blockedBy(watch, subjectType, subject)).toBeNull();

      await observe(watch, rule, subject, [member(THRESHOLD - 1)]);
      const anomalies = await listAnomalies(database.db, { subjectId: subject });
      expect(anomalies).toEqual([
        expect.objectContaining({
          kind,
          subjectType,
          subjectId: subject,
          count: THRESHOLD,
          threshold: THRESHOLD,
          windowSeconds: 60,
          windowStart: new Date(T0).toISOString(),
        }),
      ]);
      expect(await metric("propgate_anomalies_total", { kind })).toBe(1);
      expect(lines("anomaly detected")).toEqual([
        expect.objectContaining({
          level: "warn",
          rule,
          kind,
          subjectType,
          subjectId: subject,
          count: THRESHOLD,
          threshold: THRESHOLD,
          windowSeconds: 60,
        }),
      ]);

      const placed = await listBlocks(database.db, { subjectId: subject });
      const refusal = blockedBy(watch, subjectType, subject);
      if (expected.blocks) {
        expect(placed).toEqual([
          expect.objectContaining({ subjectType, kind, offence: 1, anomalyId: anomalies[0]?.id }),
        ]);
        const [block] = placed;
        if (!block) throw new Error("no block placed");
        expect((Date.parse(block.expiresAt) - Date.parse(block.createdAt)) / 1000).toBe(
          BASE_SECONDS,
        );
        expect(anomalies[0]?.blockId).toBe(block.id);
        expect(refusal).toMatchObject({ code: "BLOCKED", retryAfterSeconds: BASE_SECONDS });
        expect(refusal?.message).toBe(
          `blocked for ${BASE_SECONDS} s after unusual activity (${kind}); try again later`,
        );
        expect(
          await metric("propgate_blocks_placed_total", { subject_type: subjectType, kind }),
        ).toBe(1);
        expect(lines("subject blocked")).toEqual([
          expect.objectContaining({ block: block.id, kind, subjectType, subjectId: subject }),
        ]);
        const audited = await listAuditEvents(database.db, { kind: "block.placed" });
        expect(audited.map((event) => event.target)).toContain(`${subjectType}:${subject}`);
      } else {
        expect(placed).toEqual([]);
        expect(anomalies[0]?.blockId).toBeNull();
        expect(refusal).toBeNull();
        expect(await metric("propgate_blocks_placed_total")).toBe(0);
        expect(lines("subject blocked")).toEqual([]);
      }
      // Nobody else is touched: another subject of the type, nor the client id a peer tried.
      expect(blockedBy(watch, subjectType, newSubject(subjectType))).toBeNull();
      if (expected.counts === "per member")
        expect(blockedBy(watch, "partner_client", "ic-tried")).toBeNull();
    });
  }

  test("token_failures_client counts each client id a peer tries apart: under the threshold for each, no hit", async () => {
    at(T0 + 1_000);
    const { watch } = await watching();
    const peer = newSubject("ip");
    await observe(watch, "token_failures_client", peer, ["ic-a", "ic-b", "ic-a", "ic-b"]);
    expect(await listAnomalies(database.db, { subjectId: peer })).toEqual([]);
    await observe(watch, "token_failures_client", peer, ["ic-b"]);
    expect(await listAnomalies(database.db, { subjectId: peer })).toHaveLength(1);
  });

  test("no subject (no address, no token) is never counted", async () => {
    at(T0 + 1_000);
    const { watch, lines } = await watching();
    for (let i = 0; i < THRESHOLD * 2; i++) {
      watch.observe("auth_failures", null);
      watch.observe("auth_failures", undefined);
      watch.observe("auth_failures", "");
    }
    await watch.settle();
    expect(lines("anomaly detected")).toEqual([]);
    expect(blockedBy(watch, "ip", "")).toBeNull();
  });
});

describe("windows", () => {
  test("the sliding estimate: the last window's events weigh by how much of it is still in range", async () => {
    const { watch } = await watching(settingsWith({ opens: perMinute(10) }));
    const resident = newSubject("resident");
    at(T0 + 59_000);
    await observe(
      watch,
      "opens",
      resident,
      times(8, () => undefined),
    );
    // A quarter into the next window the 8 weigh 6: the 4th open here makes 10.
    at(T0 + 75_000);
    await observe(
      watch,
      "opens",
      resident,
      times(3, () => undefined),
    );
    expect(await listAnomalies(database.db, { subjectId: resident })).toEqual([]);
    await observe(watch, "opens", resident, [undefined]);
    expect(await listAnomalies(database.db, { subjectId: resident })).toEqual([
      expect.objectContaining({
        count: 10,
        windowStart: new Date(T0 + 60_000).toISOString(),
      }),
    ]);
  });

  test("one anomaly, metric and line per subject and window; its count is rewritten only as it doubles", async () => {
    at(T0 + 1_000);
    const { watch, metric, lines } = await watching(
      settingsWith({ consent_refusals: perMinute(3) }),
    );
    const resident = newSubject("resident");
    const counts = [];
    for (let i = 0; i < 12; i++) {
      at(now + 10); // events a few milliseconds apart, as in life
      await observe(watch, "consent_refusals", resident, [undefined]);
      counts.push((await listAnomalies(database.db, { subjectId: resident }))[0]?.count ?? 0);
    }
    expect(counts).toEqual([0, 0, 3, 3, 3, 6, 6, 6, 6, 6, 6, 12]);
    expect(await metric("propgate_anomalies_total", { kind: "consent_probing" })).toBe(1);
    expect(lines("anomaly detected")).toHaveLength(1);
    // The next window is a new anomaly.
    at(T0 + 180_000);
    await observe(
      watch,
      "consent_refusals",
      resident,
      times(3, () => undefined),
    );
    expect(await listAnomalies(database.db, { subjectId: resident })).toHaveLength(2);
    expect(await metric("propgate_anomalies_total", { kind: "consent_probing" })).toBe(2);
  });
});

describe("blocks", () => {
  test("a block ends on time; the next offence waits twice as long, a lift ends it at once, and the cap holds", async () => {
    const { watch, lines } = await watching();
    const resident = newSubject("resident");
    const offend = () =>
      observe(
        watch,
        "opens",
        resident,
        times(THRESHOLD, () => undefined),
      );
    const started = T0 + 1_000;
    at(started);
    await offend();
    expect(blockedBy(watch, "resident", resident)?.retryAfterSeconds).toBe(BASE_SECONDS);
    at(started + BASE_SECONDS * 1000 - 500);
    expect(blockedBy(watch, "resident", resident)?.retryAfterSeconds).toBe(1);
    at(started + BASE_SECONDS * 1000);
    expect(blockedBy(watch, "resident", resident)).toBeNull();

    await offend();
    const second = blockedBy(watch, "resident", resident);
    expect(second?.retryAfterSeconds).toBe(2 * BASE_SECONDS);
    const [inForce] = await listBlocks(database.db, { subjectId: resident, activeOnly: true });
    expect(inForce?.offence).toBe(2);
    if (!inForce) throw new Error("no block in force");
    await liftBlock(
      database.db,
      { blockId: inForce.id, reason: "resident called", actor: "admin:test" },
      AUDIT,
    );
    // The announcement reaches this instance's block list (as it reaches every instance's).
    await eventually("the lift is enforced", () => blockedBy(watch, "resident", resident) === null);

    at(now + 60_000);
    await offend();
    // 900, 1800, then 3600 capped at the maximum.
    expect(blockedBy(watch, "resident", resident)?.retryAfterSeconds).toBe(MAX_SECONDS);
    expect(
      lines("subject blocked").map((line) => [line.offence, Date.parse(String(line.expiresAt))]),
    ).toEqual([
      [1, started + BASE_SECONDS * 1000],
      [2, started + BASE_SECONDS * 1000 + 2 * BASE_SECONDS * 1000],
      [3, now + MAX_SECONDS * 1000],
    ]);
  });

  test("one block at a time: another rule firing on a blocked subject records its anomaly, places none", async () => {
    at(T0 + 1_000);
    const { watch, metric, lines } = await watching();
    const resident = newSubject("resident");
    await observe(
      watch,
      "opens",
      resident,
      times(THRESHOLD, () => undefined),
    );
    await observe(
      watch,
      "refused_targets",
      resident,
      times(THRESHOLD, (i) => `door-${i}`),
    );
    const anomalies = await listAnomalies(database.db, { subjectId: resident });
    expect(anomalies.map((anomaly) => [anomaly.kind, anomaly.blockId !== null]).sort()).toEqual([
      ["enumeration", false],
      ["unusual_opening", true],
    ]);
    expect(await listBlocks(database.db, { subjectId: resident })).toHaveLength(1);
    expect(await metric("propgate_blocks_placed_total")).toBe(1);
    expect(lines("subject blocked")).toHaveLength(1);
    expect(blockedBy(watch, "resident", resident)?.message).toContain("unusual_opening");
  });
});

describe("counts in Redis", () => {
  needsRedis(
    "two instances on one Redis count together, and both enforce the block one of them places",
    async () => {
      if (!REDIS_URL) throw new Error("the shared watch test needs Redis (REDIS_URL) in CI");
      at(T0 + 1_000);
      const settings = settingsWith({ opens: perMinute(4), access_check_subjects: perMinute(4) });
      const a = await watching(settings, REDIS_URL);
      const b = await watching(settings, REDIS_URL);
      for (const side of [a, b])
        await eventually("the Redis connection is ready", () => side.redis?.status === "ready");
      const resident = newSubject("resident");
      await observe(a.watch, "opens", resident, [undefined, undefined]);
      await observe(b.watch, "opens", resident, [undefined]);
      expect(await listAnomalies(database.db, { subjectId: resident })).toEqual([]);
      await observe(b.watch, "opens", resident, [undefined]);
      expect(await listAnomalies(database.db, { subjectId: resident })).toEqual([
        expect.objectContaining({ kind: "unusual_opening", count: 4 }),
      ]);
      expect(blockedBy(b.watch, "resident", resident)).not.toBeNull();
      await eventually(
        "instance A enforces B's block",
        () => blockedBy(a.watch, "resident", resident) !== null,
      );

      // Distinct members too: the same subject checked on both counts once.
      const client = newSubject("partner_client");
      await observe(a.watch, "access_check_subjects", client, ["s1", "s2", "s1"]);
      await observe(b.watch, "access_check_subjects", client, ["s2", "s3"]);
      expect(await listAnomalies(database.db, { subjectId: client })).toEqual([]);
      await observe(b.watch, "access_check_subjects", client, ["s4"]);
      expect(await listAnomalies(database.db, { subjectId: client })).toHaveLength(1);
      expect(a.lines("anomaly detected")).toEqual([]);
      expect(b.lines("anomaly detected").map((line) => line.rule)).toEqual([
        "opens",
        "access_check_subjects",
      ]);
    },
  );

  test("Redis out of reach: each instance counts its own events, and says so once", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const address = server.address();
        const free = typeof address === "object" && address ? address.port : 0;
        server.close(() => resolve(free));
      });
    });
    at(T0 + 1_000);
    const { watch, logs, redis } = await watching(settingsWith(), `redis://127.0.0.1:${port}`);
    const resident = newSubject("resident");
    await observe(
      watch,
      "opens",
      resident,
      times(THRESHOLD, () => undefined),
    );
    expect(blockedBy(watch, "resident", resident)).not.toBeNull();
    let failures = 0;
    redis?.on("error", () => failures++);
    await eventually("two more failed connection attempts", () => failures >= 2);
    expect(logs.filter((line) => String(line.msg).startsWith("watch redis"))).toEqual([
      expect.objectContaining({
        level: "warn",
        msg: "watch redis unreachable: anomaly counts are this instance's own until it returns",
      }),
    ]);
  });
});
