import type { KeyObject } from "node:crypto";
import { auditRowHash, chainGenesis } from "./audit-chain";
import { auditKeyId, checkpointMessage, checkpointSignatureValid } from "./audit-signing";
import { type Database, registeredRawQuery } from "./database";
import { auditCheckpoints } from "./schema/audit-checkpoints";

export type AuditChainVerdict =
  /** `checkpoints`: how many signed checkpoints matched (absent when there are none). */
  | { ok: true; count: number; checkpoints?: number }
  | { ok: false; firstBadSeq: number | null; reason: string };

const VERIFY_PAGE = 5000;

/** Straight from the driver (no query builder): bigints as float8, so both drivers give numbers. */
const SELECT = `select seq::float8 as seq, chain_id, chain_seq::float8 as chain_seq, id,
  to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at, kind,
  source_app, instance_id, client_ip, request_id, user_id, actor, operation, partner, purpose,
  target, attempt, result, error_code, http_status, latency_ms, call_id, prev_hash, hash
  from audit_events`;
// Qualified: the select list's float8 `chain_seq` must not be what is compared or sorted.
const ORDER = "order by audit_events.chain_id, audit_events.chain_seq";
const FIRST_PAGE = `${SELECT} ${ORDER} limit ${VERIFY_PAGE}`;
const NEXT_PAGE = `${SELECT} where (audit_events.chain_id, audit_events.chain_seq) > ($1::text, $2::bigint) ${ORDER} limit ${VERIFY_PAGE}`;

interface RawRow extends Record<string, unknown> {
  seq: number;
  chain_id: string;
  chain_seq: number;
  id: string;
  /** ISO-8601 UTC with milliseconds, as the hash's content has it. */
  at: string;
  kind: string;
  source_app: string;
  instance_id: string;
  client_ip: string | null;
  request_id: string | null;
  user_id: string | null;
  actor: string | null;
  operation: string | null;
  partner: string | null;
  purpose: string | null;
  target: string | null;
  attempt: number | null;
  result: string;
  error_code: string | null;
  http_status: number | null;
  latency_ms: number | null;
  call_id: string | null;
  prev_hash: string;
  hash: string;
}

function fromRaw(r: RawRow) {
  return {
    seq: r.seq,
    chainId: r.chain_id,
    chainSeq: r.chain_seq,
    id: r.id,
    at: new Date(r.at),
    kind: r.kind,
    sourceApp: r.source_app,
    instanceId: r.instance_id,
    clientIp: r.client_ip,
    requestId: r.request_id,
    userId: r.user_id,
    actor: r.actor,
    operation: r.operation,
    partner: r.partner,
    purpose: r.purpose,
    target: r.target,
    attempt: r.attempt,
    result: r.result,
    errorCode: r.error_code,
    httpStatus: r.http_status,
    latencyMs: r.latency_ms,
    callId: r.call_id,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

type AuditCheckpointRow = typeof auditCheckpoints.$inferSelect;

/**
 * Walks every chain in `chain_seq` order: within a chain `chain_seq` must run 1, 2, 3 … without
 * gaps, the first row must link to the chain's genesis, each `prev_hash` must equal the
 * previous row's hash, and each hash must match the row's content. Finds edited, deleted and
 * inserted rows and rows moved between chains; with the signed checkpoints, also a chain cut
 * short of one or rebuilt with fresh hashes. With `publicKey`, every checkpoint's signature
 * must be the audit key's (otherwise a forger could write checkpoints of his own).
 */
export async function verifyAuditChain(
  db: Database,
  options: { publicKey?: KeyObject } = {},
): Promise<AuditChainVerdict> {
  const checkpoints = new Map<string, AuditCheckpointRow>();
  const keyId = options.publicKey ? auditKeyId(options.publicKey) : null;
  for (const checkpoint of await db.select().from(auditCheckpoints)) {
    if (options.publicKey) {
      const message = checkpointMessage(checkpoint);
      const keyMatches = checkpoint.keyId === keyId;
      if (
        !keyMatches ||
        !checkpointSignatureValid(options.publicKey, message, checkpoint.signature)
      ) {
        return {
          ok: false,
          firstBadSeq: null,
          reason: `checkpoint ${checkpoint.id} of chain ${checkpoint.chainId} at seq ${checkpoint.chainSeq} is not signed by the audit key`,
        };
      }
    }
    checkpoints.set(`${checkpoint.chainId}\u0000${checkpoint.chainSeq}`, checkpoint);
  }
  let matched = 0;
  let checked = 0;
  let chain: string | null = null;
  let expected = 1;
  let prevHash = "";
  const raw = registeredRawQuery(db);
  if (!raw) throw new Error("verifyAuditChain needs a database from openDatabase");
  const fetchPage = (after: RawRow | undefined) =>
    raw<RawRow>(after ? NEXT_PAGE : FIRST_PAGE, after ? [after.chain_id, after.chain_seq] : []);
  // No lower bound on the first page, so a forged row with chain_seq <= 0 is seen too. The next
  // page is asked for before this one is checked, so the database and the hashing overlap.
  let next: Promise<RawRow[]> | null = fetchPage(undefined);
  while (next) {
    const rawRows: RawRow[] = await next;
    next = rawRows.length === VERIFY_PAGE ? fetchPage(rawRows[rawRows.length - 1]) : null;
    const rows = rawRows.map(fromRaw);
    for (const row of rows) {
      if (row.chainId !== chain) {
        chain = row.chainId;
        expected = 1;
        prevHash = chainGenesis(row.chainId);
      }
      if (row.chainSeq !== expected) {
        return {
          ok: false,
          firstBadSeq: row.seq,
          reason: `chain ${row.chainId}: seq ${expected} is missing (next row has seq ${row.chainSeq})`,
        };
      }
      if (row.prevHash !== prevHash) {
        return {
          ok: false,
          firstBadSeq: row.seq,
          reason: "prev_hash does not match the previous row's hash",
        };
      }
      const { seq: _global, chainId: _chain, prevHash: _stored, hash, ...content } = row;
      if (auditRowHash(prevHash, content) !== hash) {
        return { ok: false, firstBadSeq: row.seq, reason: "row content does not match its hash" };
      }
      const checkpoint = checkpoints.get(`${row.chainId}\u0000${row.chainSeq}`);
      if (checkpoint) {
        if (checkpoint.headHash !== hash) {
          return {
            ok: false,
            firstBadSeq: row.seq,
            reason: `chain ${row.chainId} does not match its signed checkpoint at seq ${row.chainSeq} (rebuilt)`,
          };
        }
        checkpoints.delete(`${row.chainId}\u0000${row.chainSeq}`);
        matched++;
      }
      prevHash = hash;
      expected++;
      checked++;
    }
  }
  const [missing] = checkpoints.values();
  if (missing) {
    return {
      ok: false,
      firstBadSeq: null,
      reason: `chain ${missing.chainId} ends before its signed checkpoint at seq ${missing.chainSeq} (rows cut)`,
    };
  }
  return matched > 0
    ? { ok: true, count: checked, checkpoints: matched }
    : { ok: true, count: checked };
}
