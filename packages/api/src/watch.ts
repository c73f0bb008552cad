/**
 * Anomaly detection and reaction (docs/operations.md, "Anomalies and blocks"): rules over
 * sliding windows, counted across instances in Redis (in this process's memory without
 * REDIS_URL); a hit is stored as an anomaly, counted, logged once per window and, for rules that
 * block, blocks its subject for a while (`placeBlock`: 15 min doubling for repeat offenders, up
 * to a cap).
 */
import {
  type AnomalyHit,
  type AuditContext,
  type BlockList,
  type DatabaseHandle,
  placeBlock,
  recordAnomaly,
} from "@propgate/consent-audit";
import type { AnomalyKind, BlockSubjectType } from "@propgate/domain";
import type { Logger, Metrics } from "@propgate/observability";
import { BlockedError } from "./errors.ts";
import { openRedis } from "./rate-limit.ts";

/**
 * Every rule: what it counts, per whom, the anomaly it reports, and whether a hit blocks its
 * subject. A rule blocks only where blocking protects someone (docs/architecture.md, invariant
 * 7): its offender costs partners or residents something (checks, opens, probes for ids) or is
 * guessing credentials. Refusals that cost nothing are recorded, counted and alerted on only.
 * `per: "member"` counts per (subject, member) but blocks the subject.
 */
export const WATCH_RULES = {
  /** Access checks by one partner client per minute (the owner's "mass access checks"). */
  access_checks: {
    kind: "mass_access_checks",
    subject: "partner_client",
    distinct: false,
    blocks: true,
  },
  /** Distinct subjects checked by one partner client per minute. */
  access_check_subjects: {
    kind: "mass_access_checks",
    subject: "partner_client",
    distinct: true,
    blocks: true,
  },
  /** Distinct devices or sites a resident was refused (FORBIDDEN_DEVICE / FORBIDDEN_SITE). */
  refused_targets: { kind: "enumeration", subject: "resident", distinct: true, blocks: true },
  /** Door and gate opens by one resident. */
  opens: { kind: "unusual_opening", subject: "resident", distinct: false, blocks: true },
  /**
   * Bad or missing bearer tokens from one client IP on the resident api. The block refuses only
   * requests from that address whose credentials fail: a valid token still passes (a NAT).
   */
  auth_failures: { kind: "credential_guessing", subject: "ip", distinct: false, blocks: true },
  /**
   * Failed client authentication at the partner token endpoint, per (client id, peer): the
   * guessing peer is blocked, never the client whose id it tries (ids are not secret).
   */
  token_failures_client: {
    kind: "partner_credential_guessing",
    subject: "ip",
    distinct: false,
    blocks: true,
    per: "member",
  },
  /** Failed client authentication at the partner token endpoint, per peer address. */
  token_failures_peer: {
    kind: "partner_credential_guessing",
    subject: "ip",
    distinct: false,
    blocks: true,
  },
  /**
   * CONSENT_REQUIRED answers to one resident: they cost nothing (no partner call) and the rate
   * limit bounds them, while an app retrying through a revocation trips them: never a block.
   */
  consent_refusals: {
    kind: "consent_probing",
    subject: "resident",
    distinct: false,
    blocks: false,
  },
  /** Requests to the partner surface from outside the VPN, per peer address: already refused. */
  outside_vpn: { kind: "outside_vpn", subject: "ip", distinct: false, blocks: false },
} as const satisfies Record<
  string,
  {
    kind: AnomalyKind;
    subject: BlockSubjectType;
    distinct: boolean;
    blocks: boolean;
    per?: "member";
  }
>;
export type WatchRule = keyof typeof WATCH_RULES;

export interface RulePolicy {
  /** The count (or distinct count) that fires the rule within the window. */
  threshold: number;
  windowSeconds: number;
}

export interface WatchSettings {
  rules: Record<WatchRule, RulePolicy>;
  blockBaseSeconds: number;
  blockMaxSeconds: number;
  /** Counters shared by every instance when set; in this process's memory otherwise. */
  redisUrl?: string;
  keyPrefix: string;
}

/** Counts of one window and the one before it, for the sliding estimate. */
interface WindowCounts {
  current: number;
  previous: number;
}

interface Counters {
  count(key: string, bucket: number, windowSeconds: number): Promise<WindowCounts>;
  distinct(
    key: string,
    member: string,
    bucket: number,
    windowSeconds: number,
  ): Promise<WindowCounts>;
  close(): Promise<void>;
}

/** How many keys the in-memory counters keep before they forget the oldest windows. */
const MEMORY_MAX_KEYS = 50_000;

function memoryCounters(): Counters {
  const windows = new Map<string, { count: number; members?: Set<string> }>();
  const slot = (key: string, bucket: number) => `${key}\u0000${bucket}`;
  const forgetOldest = () => {
    // Map keeps insertion order: the oldest windows go first.
    for (const k of windows.keys()) {
      if (windows.size <= MEMORY_MAX_KEYS * 0.9) break;
      windows.delete(k);
    }
  };
  const entry = (key: string, bucket: number) => {
    const k = slot(key, bucket);
    let found = windows.get(k);
    if (!found) {
      if (windows.size >= MEMORY_MAX_KEYS) forgetOldest();
      // Two windows back is never read again.
      windows.delete(slot(key, bucket - 2));
      found = { count: 0 };
      windows.set(k, found);
    }
    return found;
  };
  return {
    async count(key, bucket) {
      const now = entry(key, bucket);
      now.count += 1;
      return { current: now.count, previous: windows.get(slot(key, bucket - 1))?.count ?? 0 };
    },
    async distinct(key, member, bucket) {
      const now = entry(key, bucket);
      now.members ??= new Set();
      // A set of at most 10,000 members per window: far above any threshold, bounded memory.
      if (now.members.size < 10_000) now.members.add(member);
      const previous = windows.get(slot(key, bucket - 1))?.members?.size ?? 0;
      return { current: now.members.size, previous };
    },
    async close() {
      windows.clear();
    },
  };
}

/** Redis: INCR for counts, HyperLogLog (PFADD/PFCOUNT, ±1 %) for distinct counts. */
function redisCounters(url: string, prefix: string, fallback: Counters, logger: Logger): Counters {
  const redis = openRedis(url);
  let down = false;
  redis.on("error", () => {
    if (down) return;
    down = true;
    logger.warn("watch redis unreachable: anomaly counts are this instance's own until it returns");
  });
  redis.on("ready", () => {
    down = false;
  });
  const k = (key: string, bucket: number) => `${prefix}watch:${key}:${bucket}`;
  const numbers = (replies: [Error | null, unknown][] | null, at: number[]) =>
    at.map((i) => {
      const [error, value] = replies?.[i] ?? [new Error("no reply"), null];
      if (error) throw error;
      return Number(value);
    });
  return {
    async count(key, bucket, windowSeconds) {
      try {
        const replies = await redis
          .multi()
          .incr(k(key, bucket))
          .expire(k(key, bucket), windowSeconds * 2 + 5)
          .get(k(key, bucket - 1))
          .exec();
        const [current = 0, previous = 0] = numbers(replies, [0, 2]);
        return { current, previous: Number.isFinite(previous) ? previous : 0 };
      } catch {
        return fallback.count(key, bucket, windowSeconds);
      }
    },
    async distinct(key, member, bucket, windowSeconds) {
      try {
        const replies = await redis
          .multi()
          .pfadd(k(key, bucket), member)
          .expire(k(key, bucket), windowSeconds * 2 + 5)
          .pfcount(k(key, bucket))
          .pfcount(k(key, bucket - 1))
          .exec();
        const [current = 0, previous = 0] = numbers(replies, [2, 3]);
        return { current, previous };
      } catch {
        return fallback.distinct(key, member, bucket, windowSeconds);
      }
    },
    async close() {
      redis.removeAllListeners("error").on("error", () => {});
      redis.disconnect();
      await fallback.close();
    },
  };
}

export interface Watch {
  /**
   * One event for `rule` by `subjectId` (`member`: what a distinct rule counts, e.g. the device,
   * or what a `per: "member"` rule counts apart, e.g. the client id a peer tried).
   * Never throws and never waits for the database: a hit is stored in the background.
   */
  observe(rule: WatchRule, subjectId: string | null | undefined, member?: string): void;
  /** Throws `BlockedError` when the subject is blocked now. */
  enforce(subjectType: BlockSubjectType, subjectId: string | null | undefined): void;
  /** The block lists' view, for the partner surface's own error shape. */
  blocks: BlockList;
  /** Waits for the hits being stored (tests, and stop). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Seconds left of a block, at least 1. */
export function secondsLeft(expiresAt: number): number {
  return Math.max(1, Math.ceil((expiresAt - Date.now()) / 1000));
}

export function createWatch(
  settings: WatchSettings,
  deps: {
    database: DatabaseHandle;
    blocks: BlockList;
    metrics: Metrics;
    logger: Logger;
    audit: AuditContext;
  },
): Watch {
  const { database, blocks, metrics, logger } = deps;
  const memory = memoryCounters();
  const counters = settings.redisUrl
    ? redisCounters(settings.redisUrl, settings.keyPrefix, memory, logger)
    : memory;
  const pending = new Set<Promise<void>>();
  /** Hits stored this window, per rule and subject: the count last written, to write less often. */
  const stored = new Map<string, number>();

  async function judge(rule: WatchRule, subjectId: string, member: string | undefined) {
    const spec = WATCH_RULES[rule];
    const policy = settings.rules[rule];
    const windowMs = policy.windowSeconds * 1000;
    const now = Date.now();
    const bucket = Math.floor(now / windowMs);
    const perMember = "per" in spec && member !== undefined;
    const key = perMember ? `${rule}:${subjectId}:${member}` : `${rule}:${subjectId}`;
    const counts =
      spec.distinct && member !== undefined
        ? await counters.distinct(key, member, bucket, policy.windowSeconds)
        : await counters.count(key, bucket, policy.windowSeconds);
    // The sliding-window estimate: this window plus the part of the last one still in range.
    const elapsed = (now - bucket * windowMs) / windowMs;
    const estimate = Math.floor(counts.current + counts.previous * (1 - elapsed));
    if (estimate < policy.threshold) return;
    const storedKey = `${key}:${bucket}`;
    const last = stored.get(storedKey);
    // Written when first over, then each time the count doubles: a flood costs a few writes.
    if (last !== undefined && estimate < last * 2) return;
    stored.set(storedKey, estimate);
    if (stored.size > 10_000) stored.clear();
    const hit: AnomalyHit = {
      kind: spec.kind,
      subjectType: spec.subject,
      subjectId,
      windowStart: new Date(bucket * windowMs),
      windowSeconds: policy.windowSeconds,
      count: estimate,
      threshold: policy.threshold,
    };
    const { anomaly, first } = await recordAnomaly(database.db, hit);
    if (!first) return;
    metrics.anomalies.inc({ kind: spec.kind });
    logger.warn(
      {
        anomaly: anomaly.id,
        kind: spec.kind,
        rule,
        subjectType: spec.subject,
        subjectId,
        count: estimate,
        threshold: policy.threshold,
        windowSeconds: policy.windowSeconds,
      },
      "anomaly detected",
    );
    if (!spec.blocks) return;
    const block = await placeBlock(
      database.db,
      anomaly,
      { baseSeconds: settings.blockBaseSeconds, maxSeconds: settings.blockMaxSeconds },
      deps.audit,
    );
    if (!block) return;
    metrics.blocksPlaced.inc({ subject_type: block.subjectType, kind: block.kind });
    logger.warn(
      {
        block: block.id,
        kind: block.kind,
        subjectType: block.subjectType,
        subjectId: block.subjectId,
        offence: block.offence,
        expiresAt: block.expiresAt,
      },
      "subject blocked",
    );
    // This instance enforces at once; the others on the announcement.
    await blocks.reload();
  }

  return {
    observe(rule, subjectId, member) {
      if (!subjectId) return;
      const task = judge(rule, subjectId, member)
        .catch((error) => logger.error({ err: error, rule }, "anomaly rule failed"))
        .finally(() => pending.delete(task));
      pending.add(task);
    },
    enforce(subjectType, subjectId) {
      const block = blocks.check(subjectType, subjectId);
      if (block) throw new BlockedError(secondsLeft(block.expiresAt), block.kind);
    },
    blocks,
    async settle() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    async close() {
      await this.settle();
      await counters.close();
    },
  };
}
