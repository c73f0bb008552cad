import { newTimeOrderedId } from "@propgate/domain";
import type { auditEvents } from "./schema/audit-events";

/** `prev_hash` of the first row of the `legacy` chain (the rows written before chains). */
export const GENESIS_HASH = "0".repeat(64);

/** The chain of the rows written before there was one chain per writer. */
export const LEGACY_CHAIN = "legacy";

/** Namespace of the per-chain advisory locks (`pg_advisory_xact_lock(ns, hash(chain))`). */
export const AUDIT_CHAIN_LOCK_NAMESPACE = 740_211;

/** What a chain's genesis hash is taken over, before the chain's id. */
export const CHAIN_GENESIS_PREFIX = "propgate-audit-chain:";

/**
 * `prev_hash` of a chain's first row: bound to the chain's id, so a row moved to another chain,
 * or a chain renamed, no longer links.
 */
export function chainGenesis(chainId: string): string {
  if (chainId === LEGACY_CHAIN) return GENESIS_HASH;
  return sha256Hex(`${CHAIN_GENESIS_PREFIX}${chainId}`);
}

/** A row as its writer makes it: redaction (`audit-redaction.ts`) comes later, if ever. */
type AuditRow = Omit<typeof auditEvents.$inferSelect, "seq" | "redactionId" | "redactedDigest">;

/**
 * A row's content as hashed: `reason` and `traceId` may be left out where they are null (rows
 * before they existed).
 */
type HashedContent = Omit<AuditRow, "prevHash" | "hash" | "chainId" | "reason" | "traceId"> & {
  reason?: string | null;
  traceId?: string | null;
};

/**
 * The row's content as canonical JSON: snake_case column names in sorted order, absent values
 * as null, `at` as ISO-8601 UTC with milliseconds; `seq` is the row's place in its chain
 * (`chain_seq`), the chain itself is bound by its genesis hash. `reason` (an admin's) and
 * `trace_id` are keys only when the row has them, so rows written before those columns keep their
 * hashes. Anyone can recompute it from the table alone.
 */
export function canonicalAuditContent(row: HashedContent): string {
  const content = {
    actor: row.actor,
    at: row.at.toISOString(),
    attempt: row.attempt,
    call_id: row.callId,
    client_ip: row.clientIp,
    error_code: row.errorCode,
    http_status: row.httpStatus,
    id: row.id,
    instance_id: row.instanceId,
    kind: row.kind,
    latency_ms: row.latencyMs,
    operation: row.operation,
    partner: row.partner,
    purpose: row.purpose,
    ...(row.reason == null ? {} : { reason: row.reason }),
    request_id: row.requestId,
    result: row.result,
    seq: row.chainSeq,
    source_app: row.sourceApp,
    target: row.target,
    ...(row.traceId == null ? {} : { trace_id: row.traceId }),
    user_id: row.userId,
  };
  return JSON.stringify(content);
}

/** SHA-256 of the UTF-8 of `text`, as hex (Bun's native one-shot: about 3x `createHash`). */
export function sha256Hex(text: string): string {
  return Bun.SHA256.hash(text, "hex");
}

/** hash = sha256 hex of (prev_hash + canonical JSON of the row's content). */
export function auditRowHash(prevHash: string, row: HashedContent): string {
  return sha256Hex(prevHash + canonicalAuditContent(row));
}

/** Where a chain ends: the next row gets `chainSeq + 1` and links to `hash`. */
export interface ChainHead {
  chainId: string;
  chainSeq: number;
  hash: string;
}

/** A fresh chain's head: nothing in it yet, so its first row links to the genesis hash. */
export function emptyChain(chainId: string): ChainHead {
  return { chainId, chainSeq: 0, hash: chainGenesis(chainId) };
}

type RowContent = Omit<AuditRow, "prevHash" | "hash" | "chainId" | "chainSeq" | "id" | "at">;

/**
 * `contents` appended after `head` in order, each with its id, time and hashes; and the new head.
 * A row's time is `at`, or its own when it has one (an answer's row, stamped when it was queued).
 */
export function chainRows<T extends RowContent & { at?: Date }>(
  head: ChainHead,
  contents: readonly T[],
  at: Date,
): { rows: (T & Omit<AuditRow, keyof RowContent>)[]; head: ChainHead } {
  let { chainSeq, hash: prevHash } = head;
  const rows = contents.map((input) => {
    chainSeq += 1;
    const content = { ...input, chainSeq, id: newTimeOrderedId("evt"), at: input.at ?? at };
    const hash = auditRowHash(prevHash, content);
    const row = { ...content, chainId: head.chainId, prevHash, hash };
    prevHash = hash;
    return row;
  });
  return { rows, head: { chainId: head.chainId, chainSeq, hash: prevHash } };
}
