/**
 * Anomaly detection and reaction (docs/operations.md, "Anomalies and blocks"): rules over sliding
 * windows, counted across instances in Redis (in this process's memory without REDIS_URL); a hit
 * is stored as an anomaly, counted, logged once per window and, for rules that block, blocks its
 * subject for a while (`placeBlock`: 15 min doubling for repeat offenders, up to a cap).
 */
import {
  type AnomalyHit,
  type AuditContext,
  type BlockList,
  type DatabaseHandle,
  placeBlock,
  recordAnomaly,
} from "@propgate/consent-audit";
import type { BlockSubjectType } from "@propgate/domain";
import type { Logger, Metrics } from "@propgate/observability";
import type { Redis } from "ioredis";
import { BlockedError } from "../errors.ts";
import { type RulePolicy, WATCH_RULES, type WatchRule } from "./rules.ts";
import { memoryCounters, redisCounters } from "./window-counters.ts";

export interface WatchSettings {
  rules: Record<WatchRule, RulePolicy>;
  blockBaseSeconds: number;
  blockMaxSeconds: number;
  /** Prefix of the rules' keys in Redis. */
  keyPrefix: string;
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
    /** The instance's Redis connection, for counts shared by every instance. */
    redis?: Redis | null;
  },
): Watch {
  const { database, blocks, metrics, logger } = deps;
  const memory = memoryCounters();
  const counters = deps.redis
    ? redisCounters(deps.redis, settings.keyPrefix, memory, logger)
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
