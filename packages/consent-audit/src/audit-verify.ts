import type { KeyObject } from "node:crypto";
import { type SQL, sql } from "drizzle-orm";
import { CHAIN_GENESIS_PREFIX, GENESIS_HASH, LEGACY_CHAIN } from "./audit-chain";
import { CHAIN_ENDS, type ChainEnd, judgeChainEnds, newestCheckpoints } from "./audit-chain-ends";
import type { AuditCheckpoint } from "./audit-checkpoints";
import { canonicalContentSql, sha256HexSql as sha256Hex } from "./audit-content-sql";
import { type LoggedCheckpoint, loggedButMissing } from "./audit-log-stream";
import { checkRedactionRecords, unsignedRedaction } from "./audit-redaction-check";
import { auditKeyId, checkpointMessage, checkpointSignatureValid } from "./audit-signing";
import { type Database, registeredSnapshotReader, rowsOf } from "./database";
import { auditCheckpoints } from "./schema/audit-checkpoints";
import { auditRedactions } from "./schema/audit-redactions";
import { setLocalStatementTimeout } from "./statement-timeout";

export type AuditChainVerdict =
  /**
   * `checkpoints`: how many signed checkpoints matched (absent when there are none); `notes`:
   * ends that hold with a remark (a crash the log stream told from a cut); `redacted`: how many
   * rows retention redacted, each matching its signed record (absent when none).
   */
  | { ok: true; count: number; checkpoints?: number; redacted?: number; notes?: string[] }
  | { ok: false; firstBadSeq: number | null; reason: string };

/*
 * The walk is done by the database, in the verifier's own statements (nothing stored in the
 * database is trusted to compute it, and every function is pg_catalog's), over the canonical
 * JSON of `canonicalContentSql`.
 */
const { laterals: FIELDS, json: CONTENT } = canonicalContentSql("stored");
const GENESIS = `case when chain_id = '${LEGACY_CHAIN}' then '${GENESIS_HASH}'
  else ${sha256Hex(`'${CHAIN_GENESIS_PREFIX}' || chain_id`)} end`;

const FAULT = `seq::float8 as seq, chain_id as "chainId", chain_seq::float8 as "chainSeq"`;

/**
 * The first row out of place (rank 1: a `chain_seq` missing before it) or out of link (rank 2:
 * its `prev_hash` is not the previous row's hash, or its chain's genesis): walked along the
 * chain index, so it stops at the first.
 */
const FIRST_LINK_FAULT_TEXT = `
select ${FAULT}, case when chain_seq <> expected then 1 else 2 end as rank,
  expected::float8 as expected
from (select w.*, coalesce(w.previous_seq, 0) + 1 as expected from (
  select e.seq, e.chain_id, e.chain_seq, e.prev_hash,
    pg_catalog.lag(e.chain_seq) over chain as previous_seq,
    pg_catalog.lag(e.hash) over chain as previous_hash
  from audit_events e window chain as (partition by e.chain_id order by e.chain_seq)) w) w
where chain_seq <> expected or prev_hash <> coalesce(previous_hash, ${GENESIS})
order by chain_id, chain_seq limit 1`;
const FIRST_LINK_FAULT = sql.raw(FIRST_LINK_FAULT_TEXT);

/**
 * The first row whose hash is not that of its content (rank 3), or, for a redacted row, whose
 * `redacted_digest` is not that of its hash and its content as left (rank 5): every row, on
 * parallel workers. A redacted row's hash is still held by the links and the checkpoints.
 */
const FIRST_CONTENT_FAULT = sql.raw(`
select ${FAULT}, rank, null::float8 as expected from (
  select e.seq, e.chain_id, e.chain_seq, case when e.redaction_id is null then 3 else 5 end as rank
  from audit_events e, ${FIELDS}
  where case when e.redaction_id is null then ${sha256Hex(`e.prev_hash || ${CONTENT}`)} <> e.hash
    else ${sha256Hex(`e.hash || ${CONTENT}`)} is distinct from e.redacted_digest end
  offset 0) bad
order by chain_id, chain_seq limit 1`);

/** The first row a signed checkpoint names with another hash (rank 4: a rebuilt chain). */
const FIRST_CHECKPOINT_FAULT = sql.raw(`
select ${FAULT}, 4 as rank, null::float8 as expected from (
  select e.seq, e.chain_id, e.chain_seq from audit_checkpoints k
  join audit_events e using (chain_id, chain_seq) where e.hash <> k.head_hash) bad
order by chain_id, chain_seq limit 1`);

/**
 * Checkpoints past their chain's end (rows cut off), and how many checkpoints a row matched (an
 * opening checkpoint, seq 0, signs the genesis before any row).
 */
const CHECKPOINT_ROWS = sql.raw(`
select k.id, k.chain_id as "chainId", k.chain_seq::float8 as "chainSeq",
  (k.chain_seq = 0 or e.chain_seq is not null) as "hasRow"
from audit_checkpoints k
left join audit_events e using (chain_id, chain_seq)
order by k.chain_id, k.chain_seq`);

const COUNT = sql.raw("select count(*)::float8 as count from audit_events");

interface Fault extends Record<string, unknown> {
  seq: number;
  chainId: string;
  chainSeq: number;
  rank: 1 | 2 | 3 | 4 | 5;
  expected: number | null;
}

/** The fault a walk would meet first: ordered by the database, in its collation of chain ids. */
async function firstInChainOrder(tx: Database, faults: Fault[]): Promise<Fault | undefined> {
  if (faults.length <= 1) return faults[0];
  const [first] = rowsOf<{ index: number }>(
    await tx.execute(sql`select index from pg_catalog.jsonb_to_recordset(${JSON.stringify(
      faults.map((fault, index) => ({ ...fault, index })),
    )}::jsonb) as f(index int, "chainId" text, "chainSeq" float8, rank int)
    order by "chainId", "chainSeq", rank limit 1`),
  );
  return first ? faults[first.index] : faults[0];
}

async function checkpointAndContentFaults(tx: Database): Promise<Fault[]> {
  const faults = rowsOf<Fault>(await tx.execute(FIRST_CHECKPOINT_FAULT));
  // The planner prices row_to_json and sha256 as one cheap operator each, so it would hash a
  // million rows on one core; this prices the workers' rows as they are (free to send).
  await tx.execute(sql`set local parallel_tuple_cost = 0`);
  faults.push(...rowsOf<Fault>(await tx.execute(FIRST_CONTENT_FAULT)));
  return faults;
}

async function exportSnapshot(tx: Database): Promise<string> {
  const [row] = rowsOf<{ snapshot: string }>(
    await tx.execute(sql`select pg_catalog.pg_export_snapshot() as snapshot`),
  );
  if (!row) throw new Error("pg_export_snapshot returned no row");
  return row.snapshot;
}

/**
 * The bounds of the verify's transaction on PostgreSQL (PGlite enforces neither): each statement
 * within `statementTimeoutMs`; and, since it sits idle while its reader walks (after at most one
 * other verify's walk on the reader's one connection), idle for up to twice that plus a second
 * for this process to hear the reader's timeout and roll back (a busy event loop must not turn a
 * statement timeout into a killed session) — or, with no statement timeout (the operator's
 * CLI), for as long as the walk takes.
 */
/** How long this process may take to act on its reader's statement timeout. */
const ROLLBACK_MARGIN_MS = 1000;

function verifyBounds(statementTimeoutMs: number | undefined): string[] {
  if (statementTimeoutMs === undefined)
    return ["set local idle_in_transaction_session_timeout = 0"];
  return [
    setLocalStatementTimeout(statementTimeoutMs),
    `set local idle_in_transaction_session_timeout = ${2 * statementTimeoutMs + ROLLBACK_MARGIN_MS}`,
  ];
}

function faultVerdict(fault: Fault): AuditChainVerdict {
  const reasons = {
    1: `chain ${fault.chainId}: seq ${fault.expected} is missing (next row has seq ${fault.chainSeq})`,
    2: "prev_hash does not match the previous row's hash",
    3: "row content does not match its hash",
    4: `chain ${fault.chainId} does not match its signed checkpoint at seq ${fault.chainSeq} (rebuilt)`,
    5: "redacted row content does not match its redaction digest",
  } as const;
  return { ok: false, firstBadSeq: fault.seq, reason: reasons[fault.rank] };
}

/**
 * Checks every chain as a walk in `chain_seq` order would: within a chain `chain_seq` must run
 * 1, 2, 3 … without gaps, the first row must link to the chain's genesis, each `prev_hash` must
 * equal the previous row's hash, and each hash must match the row's content. Finds edited,
 * deleted and inserted rows and rows moved between chains; with the signed checkpoints, also a
 * chain cut short of one or rebuilt with fresh hashes. With `publicKey`, every checkpoint's
 * signature must be the audit key's (otherwise a forger could write checkpoints of his own), and
 * every chain's end must be signed (`judgeChainEnds`, by the clock `now`); with `logged`, the
 * checkpoints of the log stream must all be in the database, rows included. A redacted row is
 * checked against its `redacted_digest` instead of its hash, and each redaction record against
 * its rows (and, with the key, its signature): docs/architecture.md, "Retention and audit redaction".
 * Names the first bad row in chain order. One snapshot (a repeatable-read, read-only
 * transaction, shared with a second connection that walks the links meanwhile); the hashing
 * runs in the database, on parallel workers where it has them. `statementTimeoutMs` bounds
 * every statement of it, on both connections (the admin api's; the CLI runs unbounded).
 */
export async function verifyAuditChain(
  db: Database,
  options: {
    publicKey?: KeyObject;
    now?: Date;
    logged?: readonly LoggedCheckpoint[];
    statementTimeoutMs?: number;
  } = {},
): Promise<AuditChainVerdict> {
  const keyId = options.publicKey ? auditKeyId(options.publicKey) : null;
  if (options.logged && !options.publicKey)
    throw new Error("checking the log stream's checkpoints needs the public key");
  const reader = registeredSnapshotReader(db);
  const readerBounds =
    options.statementTimeoutMs === undefined
      ? []
      : [setLocalStatementTimeout(options.statementTimeoutMs)];
  return db.transaction(
    async (tx) => {
      if (reader) {
        for (const statement of verifyBounds(options.statementTimeoutMs))
          await tx.execute(sql.raw(statement));
      }
      const checkpoints = await tx.select().from(auditCheckpoints);
      if (options.publicKey) {
        for (const checkpoint of checkpoints) {
          const message = checkpointMessage(checkpoint);
          if (
            checkpoint.keyId !== keyId ||
            !checkpointSignatureValid(options.publicKey, message, checkpoint.signature)
          ) {
            return {
              ok: false,
              firstBadSeq: null,
              reason: `checkpoint ${checkpoint.id} of chain ${checkpoint.chainId} at seq ${checkpoint.chainSeq} is not signed by the audit key`,
            };
          }
        }
        const forged = options.logged?.find(
          (logged) =>
            logged.keyId !== keyId ||
            !checkpointSignatureValid(
              options.publicKey as KeyObject,
              checkpointMessage(logged),
              logged.signature,
            ),
        );
        if (forged) {
          return {
            ok: false,
            firstBadSeq: null,
            reason: `the log stream's checkpoint of chain ${forged.chainId} at seq ${forged.chainSeq} (line ${forged.line}) is not signed by the audit key`,
          };
        }
        const redactions = await tx.select().from(auditRedactions);
        const unsigned = unsignedRedaction(redactions, options.publicKey, keyId ?? "");
        if (unsigned) return { ok: false, ...unsigned };
      }
      await tx.execute(sql`set local jit = off`); // compiling costs more than it saves here
      // The link walk runs on one core along the chain index and the hashing on parallel
      // workers: on PostgreSQL they run at once, the walk on a second connection reading this
      // transaction's snapshot; on PGlite (one backend) one after the other.
      let faults: Fault[];
      if (reader) {
        const snapshot = await exportSnapshot(tx);
        const [linkFaults, otherFaults] = await Promise.all([
          reader<Fault>(snapshot, ["set local jit = off", ...readerBounds], FIRST_LINK_FAULT_TEXT),
          checkpointAndContentFaults(tx),
        ]);
        faults = [...linkFaults, ...otherFaults];
      } else {
        faults = rowsOf<Fault>(await tx.execute(FIRST_LINK_FAULT));
        faults.push(...(await checkpointAndContentFaults(tx)));
      }
      const fault = await firstInChainOrder(tx, faults);
      if (fault) return faultVerdict(fault);
      const redactions = await checkRedactionRecords(
        async <R extends Record<string, unknown>>(query: SQL) => rowsOf<R>(await tx.execute(query)),
      );
      if ("reason" in redactions) return { ok: false, ...redactions };
      const placed = rowsOf<{ chainId: string; chainSeq: number; hasRow: boolean }>(
        await tx.execute(CHECKPOINT_ROWS),
      );
      const cut = placed.find((checkpoint) => !checkpoint.hasRow);
      if (cut) {
        return {
          ok: false,
          firstBadSeq: null,
          reason: `chain ${cut.chainId} ends before its signed checkpoint at seq ${cut.chainSeq} (rows cut)`,
        };
      }
      const ends = options.publicKey
        ? await checkChainEnds(
            async <R extends Record<string, unknown>>(query: SQL) =>
              rowsOf<R>(await tx.execute(query)),
            checkpoints,
            { now: options.now ?? new Date(), logged: options.logged },
          )
        : { notes: [] };
      if ("reason" in ends) return { ok: false, firstBadSeq: null, reason: ends.reason };
      const [{ count } = { count: 0 }] = rowsOf<{ count: number }>(await tx.execute(COUNT));
      return {
        ok: true,
        count,
        ...(placed.length > 0 ? { checkpoints: placed.length } : {}),
        ...(redactions.redacted > 0 ? { redacted: redactions.redacted } : {}),
        ...(ends.notes.length > 0 ? { notes: ends.notes } : {}),
      };
    },
    { isolationLevel: "repeatable read", accessMode: "read only" },
  );
}

/** How many chains whose end fails a verdict names (chain order); the rest are counted. */
const MAX_END_FAULTS = 5;

/**
 * The end of every chain, with the key: the log stream's checkpoints first (a cut that also took
 * the checkpoints shows only there), then `judgeChainEnds`. Per chain, never per row.
 */
async function checkChainEnds(
  run: <R extends Record<string, unknown>>(query: SQL) => Promise<R[]>,
  checkpoints: readonly AuditCheckpoint[],
  options: { now: Date; logged?: readonly LoggedCheckpoint[] },
): Promise<{ reason: string } | { notes: string[] }> {
  const ends = await run<ChainEnd>(CHAIN_ENDS);
  if (options.logged) {
    const [first] = await loggedButMissing(run, options.logged);
    const lost = first === undefined ? undefined : options.logged[first];
    if (lost) {
      const lastSeq = ends.find((end) => end.chainId === lost.chainId)?.lastSeq ?? 0;
      const rows = lastSeq < lost.chainSeq ? `, and its rows from seq ${lastSeq + 1} on` : "";
      return {
        reason: `chain ${lost.chainId}: the log stream holds its signed ${lost.closing ? "closing " : ""}checkpoint at seq ${lost.chainSeq} (${lost.at.toISOString()}, line ${lost.line}) that the database lacks${rows}: a cut`,
      };
    }
  }
  const verdict = judgeChainEnds(ends, checkpoints, {
    now: options.now,
    logged: options.logged && newestCheckpoints(options.logged),
  });
  if (verdict.faults.length > 0) {
    const more = verdict.faults.length - MAX_END_FAULTS;
    const others = more > 0 ? `; and ${more} more chain(s) whose end fails` : "";
    return { reason: `${verdict.faults.slice(0, MAX_END_FAULTS).join("; ")}${others}` };
  }
  return { notes: verdict.notes };
}
