import { newId } from "@propgate/domain";
import { desc, eq, inArray } from "drizzle-orm";
import {
  auditChainId,
  lockAuditChain,
  type ProcessChainSigner,
  setProcessChainSigner,
} from "./audit";
import { type ChainHead, emptyChain, LEGACY_CHAIN } from "./audit-chain";
import { type AuditSigner, checkpointMessage } from "./audit-signing";
import { type Database, rootDatabase } from "./database";
import { auditCheckpoints } from "./schema/audit-checkpoints";
import { auditEvents } from "./schema/audit-events";

export type AuditCheckpoint = typeof auditCheckpoints.$inferSelect;

/**
 * How often a chain is signed, as its writer promises in every checkpoint: the verifier reads a
 * chain as live while its newest checkpoint is younger than two of these.
 */
export interface CheckpointCadence {
  /** New rows are signed within this (AUDIT_CHECKPOINT_SECONDS). */
  intervalMs: number;
  /** A checkpoint at least this often while nothing is written (a heartbeat). */
  heartbeatMs: number;
}

export const DEFAULT_CHECKPOINT_CADENCE: CheckpointCadence = {
  intervalMs: 10_000,
  heartbeatMs: 60_000,
};

/** Signs `head`, a committed head of its chain, and stores it (with `db`'s transaction, if one). */
export async function writeCheckpoint(
  db: Database,
  signer: AuditSigner,
  head: ChainHead,
  mark: { cadence: CheckpointCadence; closing?: boolean },
): Promise<AuditCheckpoint> {
  const signed = {
    chainId: head.chainId,
    chainSeq: head.chainSeq,
    headHash: head.hash,
    at: new Date(),
    closing: mark.closing ?? false,
    intervalMs: mark.cadence.intervalMs,
    heartbeatMs: mark.cadence.heartbeatMs,
  };
  const checkpoint: AuditCheckpoint = {
    id: newId("ckp"),
    ...signed,
    keyId: signer.keyId,
    signature: signer.sign(checkpointMessage(signed)),
  };
  await db.insert(auditCheckpoints).values(checkpoint);
  return checkpoint;
}

/** The committed head of `chainId`, or null when it has no row. */
export async function readChainHead(db: Database, chainId: string): Promise<ChainHead | null> {
  const [head] = await db
    .select({ chainSeq: auditEvents.chainSeq, hash: auditEvents.hash })
    .from(auditEvents)
    .where(eq(auditEvents.chainId, chainId))
    .orderBy(desc(auditEvents.chainSeq))
    .limit(1);
  return head ? { chainId, ...head } : null;
}

/** Whether any checkpoint of `chainId` is stored. */
export async function hasCheckpoint(db: Database, chainId: string): Promise<boolean> {
  return (await newestCheckpoint(db, chainId)) !== null;
}

async function newestCheckpoint(db: Database, chainId: string) {
  const [newest] = await db
    .select({ chainSeq: auditCheckpoints.chainSeq, at: auditCheckpoints.at })
    .from(auditCheckpoints)
    .where(eq(auditCheckpoints.chainId, chainId))
    .orderBy(desc(auditCheckpoints.chainSeq), desc(auditCheckpoints.at))
    .limit(1);
  return newest ?? null;
}

/**
 * The `legacy` chain (rows from before chains) never grows and was never signed: the first
 * process with the key to meet it signs its head as closed, so from then on a row added to it
 * or cut from it is found (docs/architecture.md, invariant 1).
 */
async function sealLegacyChain(
  db: Database,
  signer: AuditSigner,
  cadence: CheckpointCadence,
): Promise<AuditCheckpoint | null> {
  const head = await readChainHead(db, LEGACY_CHAIN);
  if (!head || (await newestCheckpoint(db, LEGACY_CHAIN))) return null;
  return writeCheckpoint(db, signer, head, { cadence, closing: true });
}

export interface ProcessChainSigning {
  /**
   * Signs the process chain where it moved since its newest checkpoint, or a heartbeat when one
   * is due; hands on the checkpoints signed inside appends once they are known to be committed.
   */
  tick(): Promise<AuditCheckpoint[]>;
  /** This holder stops; the last one signs the chain's closing checkpoint. */
  release(): Promise<AuditCheckpoint[]>;
}

export interface ProcessChainSigningOptions {
  cadence?: CheckpointCadence;
  /** Each checkpoint committed, for the log stream. */
  onCheckpoint?: (checkpoint: AuditCheckpoint) => void;
  /** A tick that failed on its own timer. */
  onError?: (error: unknown) => void;
}

interface ProcessChainState extends ProcessChainSigner {
  signer: AuditSigner;
  holders: Set<ProcessChainSigningOptions>;
  tick(closing: boolean): Promise<AuditCheckpoint[]>;
}

const processChains = new WeakMap<Database, ProcessChainState>();

/**
 * Closing checkpoints this process has signed of its chain, in any database: a second handle on
 * the same database (tests start instances side by side) must not leave rows after another's.
 */
let processChainClosings = 0;

/**
 * Signs this process's chain (consent changes, admin actions: rows `appendAuditEvents` writes
 * under the chain lock) in `db` like a writer signs its own: an append finding the newest
 * checkpoint older than the interval signs its new head in its own transaction; `tick` signs
 * rows appended meanwhile and heartbeats; the last `release` closes the chain. Holders of one
 * database share one signing (the audit writers of instances side by side).
 */
export function signProcessChain(
  db: Database,
  signer: AuditSigner,
  options: ProcessChainSigningOptions = {},
): ProcessChainSigning {
  const root = rootDatabase(db);
  let state = processChains.get(root);
  if (state && state.signer.keyId !== signer.keyId)
    throw new Error("this process already signs its chain in this database with another key");
  if (!state) {
    state = processChainState(root, signer, options.cadence ?? DEFAULT_CHECKPOINT_CADENCE);
    processChains.set(root, state);
    setProcessChainSigner(root, state);
  }
  const shared = state;
  const holder = { ...options };
  shared.holders.add(holder);
  // Rows written before this (or the legacy chain) are looked at once, at once.
  setTimeout(() => void shared.tick(false).catch((error) => holder.onError?.(error)), 0).unref();
  return {
    tick: () => (shared.holders.has(holder) ? shared.tick(false) : Promise.resolve([])),
    async release() {
      if (!shared.holders.has(holder)) return [];
      if (shared.holders.size > 1) {
        shared.holders.delete(holder);
        return [];
      }
      processChains.delete(root);
      setProcessChainSigner(root, null);
      try {
        return await shared.tick(true);
      } finally {
        shared.holders.delete(holder);
      }
    },
  };
}

function processChainState(
  db: Database,
  signer: AuditSigner,
  cadence: CheckpointCadence,
): ProcessChainState {
  const chainId = auditChainId();
  const holders = new Set<ProcessChainSigningOptions>();
  /** When the newest checkpoint this process knows of was signed; null: none yet. */
  let lastSignedAt: number | null = null;
  let closingsSeen = processChainClosings;
  /** Rows may have been appended unsigned since the last look at the database. */
  let dirty = true;
  let legacyChecked = false;
  /** Signed inside appends whose transactions may still roll back: logged once seen committed. */
  const unconfirmed: AuditCheckpoint[] = [];
  let queue: Promise<unknown> = Promise.resolve();

  const first = () => holders.values().next().value;
  const emit = (checkpoints: readonly AuditCheckpoint[]) => {
    for (const checkpoint of checkpoints) {
      try {
        first()?.onCheckpoint?.(checkpoint);
      } catch {
        // The checkpoint is committed; a failing log copy must not stop the signing.
      }
    }
  };

  async function run(closing: boolean): Promise<AuditCheckpoint[]> {
    const idle =
      !dirty &&
      unconfirmed.length === 0 &&
      legacyChecked &&
      (lastSignedAt === null || Date.now() - lastSignedAt < cadence.heartbeatMs);
    if (!closing && idle) return [];
    const written: AuditCheckpoint[] = [];
    if (!legacyChecked) {
      const seal = await sealLegacyChain(db, signer, cadence);
      if (seal) written.push(seal);
      legacyChecked = true;
    }
    const pending = unconfirmed.splice(0);
    dirty = false;
    try {
      const outcome = await db.transaction(async (tx) => {
        // Appends hold this lock until they commit: what they signed is now in, or never will be.
        await lockAuditChain(tx);
        const found = pending.length
          ? await tx
              .select({ id: auditCheckpoints.id })
              .from(auditCheckpoints)
              .where(
                inArray(
                  auditCheckpoints.id,
                  pending.map((checkpoint) => checkpoint.id),
                ),
              )
          : [];
        const ids = new Set(found.map((row) => row.id));
        const committed = pending.filter((checkpoint) => ids.has(checkpoint.id));
        const head = await readChainHead(tx, chainId);
        const newest = await newestCheckpoint(tx, chainId);
        if (!head && !newest) return { committed, signed: null };
        const current = head ?? emptyChain(chainId);
        const due =
          closing ||
          !newest ||
          current.chainSeq > newest.chainSeq ||
          Date.now() - newest.at.getTime() >= cadence.heartbeatMs;
        lastSignedAt = newest ? newest.at.getTime() : null;
        if (!due) return { committed, signed: null };
        return {
          committed,
          signed: await writeCheckpoint(tx, signer, current, { cadence, closing }),
        };
      });
      written.unshift(...outcome.committed);
      if (outcome.signed) {
        written.push(outcome.signed);
        lastSignedAt = outcome.signed.at.getTime();
        if (closing) processChainClosings += 1;
      }
      closingsSeen = processChainClosings;
    } catch (error) {
      dirty = true;
      unconfirmed.unshift(...pending);
      emit(written);
      throw error;
    }
    emit(written);
    return written;
  }

  const state: ProcessChainState = {
    signer,
    holders,
    tick(closing) {
      const next = queue.then(() => run(closing));
      queue = next.catch(() => {});
      return next;
    },
    async afterAppend(tx, head) {
      const stale =
        lastSignedAt === null ||
        Date.now() - lastSignedAt >= cadence.intervalMs ||
        closingsSeen !== processChainClosings;
      if (!stale) {
        dirty = true; // signed by the next tick, within half an interval
        return;
      }
      const checkpoint = await writeCheckpoint(tx, signer, head, { cadence });
      lastSignedAt = checkpoint.at.getTime();
      closingsSeen = processChainClosings;
      unconfirmed.push(checkpoint);
      const onError = first()?.onError;
      setTimeout(() => void state.tick(false).catch((error) => onError?.(error)), 0).unref();
    },
  };
  return state;
}
