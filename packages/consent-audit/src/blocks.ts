import {
  ANOMALY_KINDS,
  type AnomalyKind,
  BLOCK_SUBJECT_TYPES,
  type BlockSubjectType,
  newId,
  TypedId,
} from "@propgate/domain";
import { and, desc, eq, getTableColumns, gt, isNull, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { type AuditContext, recordAuditEvent } from "./audit";
import type { Database, DatabaseHandle } from "./database";
import { registeredListener } from "./database";
import { BlockNotFoundError } from "./errors";
import { requestKeyEnds } from "./guest-keys";
import { anomalies, blocks } from "./schema/watch";
import { parseInput } from "./validation";

/** The NOTIFY channel on which every new or lifted block is announced. */
export const BLOCKS_CHANNEL = "propgate_blocks";

/** One rule's hit: who, what, over which window, how many. */
export interface AnomalyHit {
  kind: AnomalyKind;
  subjectType: BlockSubjectType;
  subjectId: string;
  windowStart: Date;
  windowSeconds: number;
  count: number;
  threshold: number;
}

export interface Anomaly extends Omit<AnomalyHit, "windowStart"> {
  id: string;
  windowStart: string;
  firstSeen: string;
  lastSeen: string;
  blockId: string | null;
}

export interface Block {
  id: string;
  subjectType: BlockSubjectType;
  subjectId: string;
  kind: AnomalyKind;
  anomalyId: string | null;
  offence: number;
  createdAt: string;
  expiresAt: string;
  liftedAt: string | null;
  liftedBy: string | null;
  liftReason: string | null;
}

const HitSchema = z.strictObject({
  kind: z.enum(ANOMALY_KINDS),
  subjectType: z.enum(BLOCK_SUBJECT_TYPES),
  subjectId: z.string().min(1).max(128),
  windowStart: z.date(),
  windowSeconds: z.number().int().min(1).max(86_400),
  count: z.number().int().min(0).max(1_000_000_000),
  threshold: z.number().int().min(1).max(1_000_000_000),
});

/**
 * Stores a hit: the first of its window inserts the anomaly (`first: true`, the caller logs it
 * and decides on a block); later ones of the same window raise its count and last-seen time.
 */
export async function recordAnomaly(
  db: Database,
  input: AnomalyHit,
): Promise<{ anomaly: Anomaly; first: boolean }> {
  const hit = parseInput(HitSchema, input, "anomaly");
  const now = new Date();
  const [row] = await db
    .insert(anomalies)
    .values({ ...hit, id: newId("anm"), firstSeen: now, lastSeen: now })
    .onConflictDoUpdate({
      target: [anomalies.kind, anomalies.subjectType, anomalies.subjectId, anomalies.windowStart],
      set: { count: sql`greatest(${anomalies.count}, excluded.count)`, lastSeen: now },
    })
    // `xmax = 0` on the row returned: this statement inserted it. Not the times compared: two
    // instances (or two requests) recording the same hit within one millisecond both matched.
    .returning({ ...getTableColumns(anomalies), inserted: sql<boolean>`xmax = 0` });
  if (!row) throw new Error("anomaly upsert returned nothing");
  const { inserted, ...stored } = row;
  return { anomaly: anomalyOut(stored), first: inserted };
}

/** The resident a block of this subject stops (in whole or their key creation), for its audit row. */
function residentOf(subjectType: string, subjectId: string): string | null {
  return subjectType === "resident" || subjectType === "resident_keys" ? subjectId : null;
}

/** How long the `offence`-th block of a subject lasts: `base` doubling, at most `max`. */
export function blockSeconds(offence: number, base: number, max: number): number {
  return Math.min(max, base * 2 ** Math.min(30, offence - 1));
}

/**
 * Blocks the subject of `anomaly` unless it is blocked already: the offence number counts its
 * earlier blocks (lifted or over), so a repeat offender waits `base`, `2 × base` … up to `max`
 * seconds. Audited (`block.placed`) and announced to every instance in the same transaction;
 * a blocked resident's guest keys are queued to end at the partner in it too.
 */
export async function placeBlock(
  db: Database,
  anomaly: Pick<Anomaly, "id" | "kind" | "subjectType" | "subjectId">,
  durations: { baseSeconds: number; maxSeconds: number },
  audit: AuditContext,
): Promise<Block | null> {
  return db.transaction(async (tx) => {
    // One block at a time per subject, across instances: the key's lock orders two rules firing at once.
    await tx.execute(
      sql`select pg_advisory_xact_lock(740212, hashtext(${`${anomaly.subjectType}:${anomaly.subjectId}`}))`,
    );
    const subject = and(
      eq(blocks.subjectType, anomaly.subjectType),
      eq(blocks.subjectId, anomaly.subjectId),
    );
    const now = new Date();
    const [active] = await tx
      .select({ id: blocks.id })
      .from(blocks)
      .where(and(subject, inForceAt(now)))
      .limit(1);
    if (active) return null;
    const [earlier] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(blocks)
      .where(subject);
    const offence = (earlier?.n ?? 0) + 1;
    const seconds = blockSeconds(offence, durations.baseSeconds, durations.maxSeconds);
    const [row] = await tx
      .insert(blocks)
      .values({
        id: newId("blk"),
        subjectType: anomaly.subjectType,
        subjectId: anomaly.subjectId,
        kind: anomaly.kind,
        anomalyId: anomaly.id,
        offence,
        createdAt: now,
        expiresAt: new Date(now.getTime() + seconds * 1000),
      })
      .returning();
    if (!row) throw new Error("block insert returned nothing");
    await tx.update(anomalies).set({ blockId: row.id }).where(eq(anomalies.id, anomaly.id));
    // A resident blocked for abuse loses the guest keys they handed out: queued with the block.
    if (anomaly.subjectType === "resident") {
      await requestKeyEnds(tx, { userId: anomaly.subjectId, reason: "blocked" });
    }
    await recordAuditEvent(tx, {
      ...audit,
      kind: "block.placed",
      result: "ok",
      userId: residentOf(anomaly.subjectType, anomaly.subjectId),
      target: `${anomaly.subjectType}:${anomaly.subjectId}`.slice(0, 128),
      errorCode: anomaly.kind.toUpperCase(),
    });
    await tx.execute(sql`select pg_notify(${BLOCKS_CHANNEL}, ${row.id})`);
    return blockOut(row);
  });
}

const LiftInput = z.strictObject({
  blockId: TypedId("blk"),
  reason: z.string().trim().min(3).max(500),
  actor: z.string().min(1).max(128),
});

/** An admin ends a block early, with a reason; audited and announced. Lifting twice is refused. */
export async function liftBlock(
  db: Database,
  input: z.input<typeof LiftInput>,
  audit: AuditContext,
): Promise<Block> {
  const lift = parseInput(LiftInput, input, "block lift");
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(blocks)
      .set({ liftedAt: new Date(), liftedBy: lift.actor, liftReason: lift.reason })
      .where(and(eq(blocks.id, lift.blockId), isNull(blocks.liftedAt)))
      .returning();
    if (!row) throw new BlockNotFoundError();
    await recordAuditEvent(tx, {
      ...audit,
      kind: "admin.blocks.lift",
      result: "ok",
      userId: residentOf(row.subjectType, row.subjectId),
      target: row.id,
      errorCode: null,
    });
    await tx.execute(sql`select pg_notify(${BLOCKS_CHANNEL}, ${row.id})`);
    return blockOut(row);
  });
}

const AnomalyQuery = z.strictObject({
  kind: z.enum(ANOMALY_KINDS).optional(),
  subjectType: z.enum(BLOCK_SUBJECT_TYPES).optional(),
  subjectId: z.string().min(1).max(128).optional(),
  since: z.date().optional(),
  limit: z.number().int().min(1).max(500).default(100),
});
const BlockQuery = AnomalyQuery.extend({ activeOnly: z.boolean().optional() });

/** Blocks neither lifted nor over at `now`. */
function inForceAt(now: Date): SQL {
  return sql`(${isNull(blocks.liftedAt)} and ${gt(blocks.expiresAt, now)})`;
}

/** The filters both lists share, on `table`'s columns; `since` on its time column. */
function subjectFilters(
  table: typeof anomalies | typeof blocks,
  time: typeof anomalies.lastSeen | typeof blocks.createdAt,
  q: z.output<typeof AnomalyQuery>,
): SQL[] {
  const where: SQL[] = [];
  if (q.kind) where.push(eq(table.kind, q.kind));
  if (q.subjectType) where.push(eq(table.subjectType, q.subjectType));
  if (q.subjectId) where.push(eq(table.subjectId, q.subjectId));
  if (q.since) where.push(gt(time, q.since));
  return where;
}

/** Anomalies, newest first; filters by kind, subject and time. */
export async function listAnomalies(
  db: Database,
  query: z.input<typeof AnomalyQuery> = {},
): Promise<Anomaly[]> {
  const q = parseInput(AnomalyQuery, query, "anomaly query");
  const where = subjectFilters(anomalies, anomalies.lastSeen, q);
  const rows = await db
    .select()
    .from(anomalies)
    .where(and(...where))
    .orderBy(desc(anomalies.lastSeen))
    .limit(q.limit);
  return rows.map(anomalyOut);
}

/** Blocks, newest first; `activeOnly` keeps those in force now. */
export async function listBlocks(
  db: Database,
  query: z.input<typeof BlockQuery> = {},
): Promise<Block[]> {
  const q = parseInput(BlockQuery, query, "block query");
  const where = subjectFilters(blocks, blocks.createdAt, q);
  if (q.activeOnly) where.push(inForceAt(new Date()));
  const rows = await db
    .select()
    .from(blocks)
    .where(and(...where))
    .orderBy(desc(blocks.createdAt))
    .limit(q.limit);
  return rows.map(blockOut);
}

/** What a check of the block list answers for a blocked subject. */
export interface BlockInForce {
  blockId: string;
  /** The rule's anomaly that placed it: told to the blocked subject, so they know why. */
  kind: AnomalyKind;
  expiresAt: number;
}

/** The blocks in force, held in memory by each instance. */
export interface BlockList {
  /** The block in force on this subject, if any (never a database round trip). */
  check(subjectType: BlockSubjectType, subjectId: string | null | undefined): BlockInForce | null;
  /** How many are in force per subject type (for `propgate_blocks_active`). */
  counts(): Record<BlockSubjectType, number>;
  /** Reads the blocks in force again (after a local change, and on every announcement). */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Loads the blocks in force and reloads them whenever any instance announces a change on
 * `propgate_blocks`, when the listening connection comes back, and every `refreshMs` as a
 * backstop. Expiry is checked at each `check`, so a block ends on time without a reload.
 */
export async function createBlockList(
  handle: DatabaseHandle,
  options: { refreshMs?: number; onError?: (error: unknown) => void } = {},
): Promise<BlockList> {
  let inForce = new Map<string, BlockInForce & { subjectType: BlockSubjectType }>();
  const key = (type: string, id: string) => `${type}\u0000${id}`;
  let loading: Promise<void> | null = null;
  let again = false;
  const load = async () => {
    const rows = await handle.db.select().from(blocks).where(inForceAt(new Date()));
    const next = new Map<string, BlockInForce & { subjectType: BlockSubjectType }>();
    for (const row of rows) {
      const subjectType = row.subjectType as BlockSubjectType;
      const k = key(subjectType, row.subjectId);
      const expiresAt = row.expiresAt.getTime();
      if ((next.get(k)?.expiresAt ?? 0) < expiresAt)
        next.set(k, { blockId: row.id, kind: row.kind as AnomalyKind, expiresAt, subjectType });
    }
    inForce = next;
  };
  // Reloads never overlap; one asked for during a load runs after it, so none is missed.
  const reload = (): Promise<void> => {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      try {
        do {
          again = false;
          await load();
        } while (again);
      } finally {
        loading = null;
      }
    })();
    return loading;
  };
  const background = () => {
    reload().catch((error) => options.onError?.(error));
  };
  const listen = registeredListener(handle.db);
  if (!listen) throw new Error("createBlockList needs a handle from openDatabase");
  const unlisten = await listen(BLOCKS_CHANNEL, background, background);
  // Not fatal: an instance starts before `migrate` has run or while the database is away (its
  // readiness says so); until a load succeeds no block is enforced, and the timer tries again.
  await reload().catch((error) => options.onError?.(error));
  const timer = setInterval(background, options.refreshMs ?? 30_000);
  timer.unref?.();
  return {
    check(subjectType, subjectId) {
      if (!subjectId) return null;
      const found = inForce.get(key(subjectType, subjectId));
      if (!found || found.expiresAt <= Date.now()) return null;
      return { blockId: found.blockId, kind: found.kind, expiresAt: found.expiresAt };
    },
    counts() {
      const counts: Record<BlockSubjectType, number> = {
        resident: 0,
        ip: 0,
        partner_client: 0,
        resident_keys: 0,
      };
      const now = Date.now();
      for (const block of inForce.values()) if (block.expiresAt > now) counts[block.subjectType]++;
      return counts;
    },
    reload,
    async close() {
      clearInterval(timer);
      await unlisten();
    },
  };
}

function anomalyOut(row: typeof anomalies.$inferSelect): Anomaly {
  return {
    id: row.id,
    kind: row.kind as AnomalyKind,
    subjectType: row.subjectType as BlockSubjectType,
    subjectId: row.subjectId,
    windowStart: row.windowStart.toISOString(),
    windowSeconds: row.windowSeconds,
    count: row.count,
    threshold: row.threshold,
    firstSeen: row.firstSeen.toISOString(),
    lastSeen: row.lastSeen.toISOString(),
    blockId: row.blockId,
  };
}

function blockOut(row: typeof blocks.$inferSelect): Block {
  return {
    id: row.id,
    subjectType: row.subjectType as BlockSubjectType,
    subjectId: row.subjectId,
    kind: row.kind as AnomalyKind,
    anomalyId: row.anomalyId,
    offence: row.offence,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    liftedAt: row.liftedAt?.toISOString() ?? null,
    liftedBy: row.liftedBy,
    liftReason: row.liftReason,
  };
}
