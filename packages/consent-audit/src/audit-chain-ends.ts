import { sql } from "drizzle-orm";
import { LEGACY_CHAIN } from "./audit-chain";
import type { AuditCheckpoint } from "./audit-checkpoints";

/**
 * Each chain's last `chain_seq`: a skip scan down the chain index, one probe per chain, so the
 * rules below cost the same at a million rows as at ten.
 */
export const CHAIN_ENDS = sql.raw(`
with recursive ends as (
  (select e.chain_id, e.chain_seq from audit_events e
   order by e.chain_id desc, e.chain_seq desc limit 1)
  union all
  select last.chain_id, last.chain_seq from ends, lateral (
    select e.chain_id, e.chain_seq from audit_events e where e.chain_id < ends.chain_id
    order by e.chain_id desc, e.chain_seq desc limit 1) last
)
select chain_id as "chainId", chain_seq::float8 as "lastSeq" from ends`);

export interface ChainEnd extends Record<string, unknown> {
  chainId: string;
  lastSeq: number;
}

type SignedEnd = Pick<
  AuditCheckpoint,
  "chainId" | "chainSeq" | "at" | "closing" | "intervalMs" | "heartbeatMs" | "signature"
>;

/** Checkpoints signed before v2 (no cadence): the writer then signed every 10 s while busy. */
const V1_INTERVAL_MS = 10_000;

export interface ChainEndsVerdict {
  /** Why a chain's end is no evidence, first chain first; empty when every end holds. */
  faults: string[];
  /** Ends that hold with a remark (a crash the log stream tells from a cut). */
  notes: string[];
}

/**
 * The newest checkpoint of each chain: the highest `chain_seq`; at one seq a closing checkpoint
 * (nothing may follow it: a checkpoint and the close can share a millisecond), then the latest
 * signed time.
 */
export function newestCheckpoints<C extends SignedEnd>(checkpoints: readonly C[]): Map<string, C> {
  const newest = new Map<string, C>();
  const rank = (c: C) => [c.chainSeq, c.closing ? 1 : 0, c.at.getTime()] as const;
  const newer = (a: C, b: C) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0] !== y[0] ? x[0] > y[0] : x[1] !== y[1] ? x[1] > y[1] : x[2] > y[2];
  };
  for (const checkpoint of checkpoints) {
    const seen = newest.get(checkpoint.chainId);
    if (!seen || newer(checkpoint, seen)) newest.set(checkpoint.chainId, checkpoint);
  }
  return newest;
}

const rows = (from: number, to: number) => (from === to ? `row ${from}` : `rows ${from}-${to}`);

const ago = (ms: number) =>
  ms < 120_000 ? `${Math.round(ms / 1000)} s ago` : `${Math.round(ms / 60_000)} min ago`;

/**
 * The rules for the end of every chain, with signed checkpoints (docs/architecture.md,
 * invariant 1): a chain's newest checkpoint must cover its last row — unless the chain is live,
 * its newest checkpoint younger than two intervals; a chain covered by a checkpoint that is not
 * closing must be live, younger than two heartbeats; a chain without a checkpoint was never
 * signed. `now` is the verifier's clock, against the signed time. `logged` (the newest
 * checkpoint per chain in the log stream, every one of which the database holds) tells a crash
 * from a cut: the stream saw the chain's last checkpoint and nothing after it.
 */
export function judgeChainEnds(
  ends: readonly ChainEnd[],
  checkpoints: readonly SignedEnd[],
  options: { now: Date; logged?: ReadonlyMap<string, SignedEnd> },
): ChainEndsVerdict {
  const lastSeqs = new Map(ends.map((end) => [end.chainId, end.lastSeq]));
  const newest = newestCheckpoints(checkpoints);
  const chainIds = [...new Set([...lastSeqs.keys(), ...newest.keys()])].sort();
  const faults: string[] = [];
  const notes: string[] = [];
  for (const chainId of chainIds) {
    const lastSeq = lastSeqs.get(chainId) ?? 0;
    const end = newest.get(chainId);
    if (!end) {
      faults.push(
        chainId === LEGACY_CHAIN
          ? `chain ${LEGACY_CHAIN} (rows from before chains) has no signed checkpoint: the first instance started with the audit key seals it`
          : `chain ${chainId} has ${lastSeq} row(s) and no signed checkpoint: the audit key never signed it (a chain inserted, or written without the key)`,
      );
      continue;
    }
    // Past the chain's end: reported as a cut before the ends are judged.
    if (end.chainSeq > lastSeq) continue;
    const covered = end.chainSeq === lastSeq;
    const age = options.now.getTime() - end.at.getTime();
    const signedAt = `seq ${end.chainSeq}, signed ${end.at.toISOString()}, ${ago(age)}`;
    if (end.closing) {
      if (!covered)
        faults.push(
          `chain ${chainId} has rows after its closing checkpoint (${signedAt}): ${rows(end.chainSeq + 1, lastSeq)} added after it closed`,
        );
      continue;
    }
    if (end.intervalMs == null || end.heartbeatMs == null) {
      // Signed before closing checkpoints existed: covered is as closed as it can say.
      if (covered || age < 2 * V1_INTERVAL_MS) continue;
    } else if (covered ? age < 2 * end.heartbeatMs : age < 2 * end.intervalMs) continue; // live
    const unsigned = covered ? "" : `; ${rows(end.chainSeq + 1, lastSeq)} not signed`;
    const logged = options.logged?.get(chainId);
    if (logged?.signature === end.signature) {
      notes.push(
        `chain ${chainId} ended without a closing checkpoint: a crash (the log stream has nothing past its checkpoint at ${signedAt})${unsigned}`,
      );
      continue;
    }
    const stream = options.logged
      ? "; the log stream holds no copy of that checkpoint (export one that covers its time)"
      : "";
    faults.push(
      `chain ${chainId} ended without a closing checkpoint: a crash or a cut (its newest checkpoint: ${signedAt})${unsigned}${stream}`,
    );
  }
  return { faults, notes };
}
