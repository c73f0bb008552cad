import type { KeyObject } from "node:crypto";
import { auditRowHash, chainGenesis } from "./audit-chain";
import { auditKeyId, checkpointMessage, checkpointSignatureValid } from "./audit-signing";
import { type Database, registeredRawQuery } from "./database";
import { auditCheckpoints } from "./schema/audit-checkpoints";
import type { auditEvents } from "./schema/audit-events";

export type AuditChainVerdict =
  /** `checkpoints`: how many signed checkpoints matched (absent when there are none). */
  | { ok: true; count: number; checkpoints?: number }
  | { ok: false; firstBadSeq: number | null; reason: string };

const VERIFY_PAGE = 5000;

/**
 * Straight from the driver (no query builder), named as the schema's fields: bigints as float8,
 * so both drivers give numbers; `at` as ISO-8601 text, as the hash's content has it.
 */
const SELECT = `select seq::float8 as seq, chain_id as "chainId", chain_seq::float8 as "chainSeq", id,
  to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at, kind,
  source_app as "sourceApp", instance_id as "instanceId", client_ip as "clientIp",
  request_id as "requestId", user_id as "userId", actor, operation, partner, purpose, target,
  attempt, result, error_code as "errorCode", http_status as "httpStatus",
  latency_ms as "latencyMs", call_id as "callId", prev_hash as "prevHash", hash
  from audit_events`;
const ORDER = "order by audit_events.chain_id, audit_events.chain_seq";
const FIRST_PAGE = `${SELECT} ${ORDER} limit ${VERIFY_PAGE}`;
const NEXT_PAGE = `${SELECT} where (audit_events.chain_id, audit_events.chain_seq) > ($1::text, $2::bigint) ${ORDER} limit ${VERIFY_PAGE}`;

type PageRow = Omit<typeof auditEvents.$inferSelect, "at"> & { at: string };

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
  const fetchPage = (after: PageRow | undefined) =>
    raw<PageRow>(after ? NEXT_PAGE : FIRST_PAGE, after ? [after.chainId, after.chainSeq] : []);
  // No lower bound on the first page, so a forged row with chain_seq <= 0 is seen too. The next
  // page is asked for before this one is checked, so the database and the hashing overlap.
  let next: Promise<PageRow[]> | null = fetchPage(undefined);
  while (next) {
    const rawRows: PageRow[] = await next;
    next = rawRows.length === VERIFY_PAGE ? fetchPage(rawRows[rawRows.length - 1]) : null;
    const rows = rawRows.map((row) => ({ ...row, at: new Date(row.at) }));
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
