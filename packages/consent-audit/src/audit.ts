import { hostname } from "node:os";
import {
  AUDIT_KINDS,
  AUDIT_OPERATIONS,
  type AuditKind,
  type AuditOperation,
  PARTNERS,
  PURPOSES,
} from "@propgate/domain";
import { and, count, desc, eq, is, lt, type SQL, sql } from "drizzle-orm";
import { PgTransaction } from "drizzle-orm/pg-core";
import { z } from "zod";
import { AUDIT_CHAIN_LOCK_NAMESPACE, type ChainHead, chainRows, emptyChain } from "./audit-chain";
import { type Database, rootDatabase } from "./database";
import { auditEvents } from "./schema/audit-events";
import { hasOnlyKeys, isText, parseInput } from "./validation";

/** Who is writing: the app and instance, and the request that caused the write. */
export interface AuditContext {
  sourceApp: string;
  instanceId: string;
  clientIp?: string | null;
  requestId?: string | null;
  actor?: string | null;
  /** Why an admin acts (`admin.*` actions require one): kept on every row the action writes. */
  reason?: string | null;
  /** The request's trace (W3C trace id, 32 hex) when it is traced; on every row it writes. */
  traceId?: string | null;
}

/** One row to append; the context fields say where it came from. */
export interface AuditEventInput extends AuditContext {
  kind: AuditKind;
  result: string;
  userId?: string | null;
  operation?: AuditOperation | null;
  partner?: string | null;
  purpose?: string | null;
  target?: string | null;
  attempt?: number | null;
  errorCode?: string | null;
  httpStatus?: number | null;
  latencyMs?: number | null;
  callId?: string | null;
}

export interface AuditEvent {
  seq: number;
  /** The writer's chain, and the row's place in it (1, 2, 3 … without gaps). */
  chainId: string;
  chainSeq: number;
  id: string;
  /** ISO-8601 UTC. */
  at: string;
  kind: string;
  sourceApp: string;
  instanceId: string;
  clientIp: string | null;
  requestId: string | null;
  userId: string | null;
  actor: string | null;
  operation: string | null;
  partner: string | null;
  purpose: string | null;
  target: string | null;
  attempt: number | null;
  result: string;
  errorCode: string | null;
  httpStatus: number | null;
  latencyMs: number | null;
  callId: string | null;
  /** An admin action's reason; null on every other row. */
  reason: string | null;
  /** The trace of the request that wrote the row (W3C trace id); null when it was not traced. */
  traceId: string | null;
  prevHash: string;
  hash: string;
  /** Set once retention removed the row's personal fields (its signed redaction record). */
  redactionId: string | null;
  /** sha256 hex of `hash` + the content as left by the redaction; null while the row is whole. */
  redactedDigest: string | null;
}

const Kind = z.enum(AUDIT_KINDS);
const Operation = z.enum(AUDIT_OPERATIONS);
const opaque = (max: number) => z.string().min(1).max(max);
const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? null);

const TRACE_ID = /^[0-9a-f]{32}$/;

const AuditContextShape = {
  sourceApp: opaque(64),
  instanceId: opaque(128),
  clientIp: optional(z.string().max(64)),
  requestId: optional(opaque(128)),
  actor: optional(opaque(128)),
  reason: optional(z.string().min(1).max(500)),
  traceId: optional(z.string().regex(TRACE_ID)),
};
const AuditContextSchema = z.strictObject(AuditContextShape);
const CONTEXT_KEYS: ReadonlySet<string> = new Set(Object.keys(AuditContextShape));

/** `AuditContextSchema` on `contextFields`' output (every key there, null when absent), in brief. */
function isPlainContext(context: AuditContext): boolean {
  const { clientIp, requestId, actor, reason, traceId } = context;
  return (
    hasOnlyKeys(context, CONTEXT_KEYS) &&
    isText(context.sourceApp, 1, 64) &&
    isText(context.instanceId, 1, 128) &&
    (clientIp === null || isText(clientIp, 0, 64)) &&
    (requestId === null || isText(requestId, 1, 128)) &&
    (actor === null || isText(actor, 1, 128)) &&
    (reason === null || isText(reason, 1, 500)) &&
    (traceId === null || (typeof traceId === "string" && TRACE_ID.test(traceId)))
  );
}

const AuditEventInputSchema = z.strictObject({
  kind: Kind,
  result: z.string().regex(/^[a-z][a-z_]{0,31}$/),
  ...AuditContextShape,
  userId: optional(opaque(128)),
  operation: optional(Operation),
  partner: optional(z.enum(PARTNERS)),
  purpose: optional(z.enum(PURPOSES)),
  target: optional(opaque(128)),
  attempt: optional(z.number().int().min(0).max(1000)),
  errorCode: optional(z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/)),
  httpStatus: optional(z.number().int().min(100).max(599)),
  latencyMs: optional(z.number().int().min(0).max(86_400_000)),
  callId: optional(opaque(128)),
});

/** An audit row's content, checked and with every absent field null. */
export type ParsedAuditEvent = z.output<typeof AuditEventInputSchema>;

/** Checks one row to append; `InvalidInputError` names what is wrong. */
export function parseAuditEvent(event: AuditEventInput): ParsedAuditEvent {
  return parseInput(AuditEventInputSchema, event, "audit event");
}

const checkedContexts = new WeakMap<AuditContext, AuditContext>();

/**
 * The context checked as `parseAuditEvent` would, once per context object (a request makes one
 * and writes several rows with it).
 */
export function parseAuditContext(audit: AuditContext): AuditContext {
  let checked = checkedContexts.get(audit);
  if (!checked) {
    const fields = contextFields(audit);
    checked = isPlainContext(fields)
      ? fields
      : parseInput(AuditContextSchema, fields, "audit context");
    checkedContexts.set(audit, checked);
  }
  return checked;
}

/**
 * A row built by this package from inputs it has already checked field by field (a partner
 * attempt or result and a checked context), with every absent field null as the hash needs.
 */
export function completeAuditEvent(event: AuditEventInput): ParsedAuditEvent {
  return {
    kind: event.kind,
    result: event.result,
    sourceApp: event.sourceApp,
    instanceId: event.instanceId,
    clientIp: event.clientIp ?? null,
    requestId: event.requestId ?? null,
    actor: event.actor ?? null,
    reason: event.reason ?? null,
    traceId: event.traceId ?? null,
    userId: event.userId ?? null,
    operation: event.operation ?? null,
    partner: (event.partner ?? null) as ParsedAuditEvent["partner"],
    purpose: (event.purpose ?? null) as ParsedAuditEvent["purpose"],
    target: event.target ?? null,
    attempt: event.attempt ?? null,
    errorCode: event.errorCode ?? null,
    httpStatus: event.httpStatus ?? null,
    latencyMs: event.latencyMs ?? null,
    callId: event.callId ?? null,
  };
}

/** The context fields of an `AuditContext`, as stored on every row. */
export function contextFields(audit: AuditContext): AuditContext {
  return {
    sourceApp: audit.sourceApp,
    instanceId: audit.instanceId,
    clientIp: audit.clientIp ?? null,
    requestId: audit.requestId ?? null,
    actor: audit.actor ?? null,
    reason: audit.reason ?? null,
    traceId: audit.traceId ?? null,
  };
}

/**
 * This process's chain: one writer per api process from its start, so appends never wait for
 * another instance (docs/architecture.md, invariant 1).
 */
const PROCESS_CHAIN_ID = `${hostname().slice(0, 64)}/${process.pid}/${Date.now().toString(36)}`;

/** The id of the chain this process appends to. */
export function auditChainId(): string {
  return PROCESS_CHAIN_ID;
}

/** Signs this process's chain as it grows (`signProcessChain`, in a process with the audit key). */
export interface ProcessChainSigner {
  /**
   * Runs in the appending transaction, under the chain lock, after the rows: may add a signed
   * checkpoint of `head`, which then commits (or not) with them.
   */
  afterAppend(tx: Database, head: ChainHead): Promise<void>;
}

const processChainSigners = new WeakMap<Database, ProcessChainSigner>();

/** Registers (or with null removes) the signer of this process's chain in database `db`. */
export function setProcessChainSigner(db: Database, signer: ProcessChainSigner | null): void {
  if (signer) processChainSigners.set(rootDatabase(db), signer);
  else processChainSigners.delete(rootDatabase(db));
}

const chainLockHolders = new WeakSet<Database>();

/**
 * Takes this process's chain lock for the rest of transaction `tx`: appends of one process
 * queue, other instances never wait for it. Lock order everywhere: this lock first, then
 * consent rows, so consent changes and partner attempts cannot deadlock.
 */
export async function lockAuditChain(tx: Database): Promise<void> {
  if (!is(tx, PgTransaction)) throw new Error("lockAuditChain must run inside a transaction");
  if (chainLockHolders.has(tx)) return;
  await tx.execute(
    sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_NAMESPACE}, hashtext(${PROCESS_CHAIN_ID}))`,
  );
  chainLockHolders.add(tx);
}

/**
 * Appends rows to this process's chain inside `tx`, in order, with one INSERT (group commit).
 * The chain lock is held until the OUTER transaction ends, so keep that transaction short.
 * Use READ COMMITTED (the default): the lock holder must see the row committed just before it.
 */
export async function appendAuditEvents(
  tx: Database,
  events: readonly AuditEventInput[],
): Promise<AuditEvent[]> {
  if (events.length === 0) return [];
  const inputs = events.map(parseAuditEvent);
  const append = async (inner: Database): Promise<AuditEvent[]> => {
    await lockAuditChain(inner);
    const [last] = await inner
      .select({ chainSeq: auditEvents.chainSeq, hash: auditEvents.hash })
      .from(auditEvents)
      .where(eq(auditEvents.chainId, PROCESS_CHAIN_ID))
      .orderBy(desc(auditEvents.chainSeq))
      .limit(1);
    const head = last ? { chainId: PROCESS_CHAIN_ID, ...last } : emptyChain(PROCESS_CHAIN_ID);
    const { rows, head: newHead } = chainRows(head, inputs, new Date());
    const stored = await inner.insert(auditEvents).values(rows).returning();
    await processChainSigners.get(rootDatabase(inner))?.afterAppend(inner, newHead);
    return stored.sort((a, b) => a.chainSeq - b.chainSeq).map(toAuditEvent);
  };
  // Inside a transaction already: append in place (no savepoint round trips under the lock).
  return is(tx, PgTransaction) ? append(tx) : tx.transaction(append);
}

/** Appends one row to this process's chain (see `appendAuditEvents`). */
export async function recordAuditEvent(tx: Database, event: AuditEventInput): Promise<AuditEvent> {
  const [stored] = await appendAuditEvents(tx, [event]);
  if (!stored) throw new Error("the audit row was not written");
  return stored;
}

function toAuditEvent(row: typeof auditEvents.$inferSelect): AuditEvent {
  return { ...row, at: row.at.toISOString() };
}

export interface ListAuditEventsQuery {
  userId?: string;
  kind?: AuditKind;
  operation?: AuditOperation;
  /** 1..500, default 100. */
  limit?: number;
  /** Only rows with `seq` below this (for paging back). */
  beforeSeq?: number;
}

const ListAuditEventsQuerySchema = z.strictObject({
  userId: opaque(128).optional(),
  kind: Kind.optional(),
  operation: Operation.optional(),
  limit: z.number().int().min(1).max(500).default(100),
  beforeSeq: z.number().int().min(1).optional(),
});

/** Audit rows, newest first. */
export async function listAuditEvents(
  db: Database,
  query: ListAuditEventsQuery = {},
): Promise<AuditEvent[]> {
  const q = parseInput(ListAuditEventsQuerySchema, query, "audit query");
  const conditions: SQL[] = [];
  if (q.userId !== undefined) conditions.push(eq(auditEvents.userId, q.userId));
  if (q.kind !== undefined) conditions.push(eq(auditEvents.kind, q.kind));
  if (q.operation !== undefined) conditions.push(eq(auditEvents.operation, q.operation));
  if (q.beforeSeq !== undefined) conditions.push(lt(auditEvents.seq, q.beforeSeq));
  const rows = await db
    .select()
    .from(auditEvents)
    .where(and(...conditions))
    .orderBy(desc(auditEvents.seq))
    .limit(q.limit);
  return rows.map(toAuditEvent);
}

export async function countAuditEvents(
  db: Database,
  query: { kind?: AuditKind } = {},
): Promise<number> {
  const q = parseInput(z.strictObject({ kind: Kind.optional() }), query, "audit query");
  const [row] = await db
    .select({ n: count() })
    .from(auditEvents)
    .where(q.kind === undefined ? undefined : eq(auditEvents.kind, q.kind));
  return row?.n ?? 0;
}
