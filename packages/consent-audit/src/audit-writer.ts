import {
  type AuditContext,
  type AuditEventInput,
  appendAuditEvents,
  lockAuditChain,
} from "./audit";
import { type AuditCheckpoint, checkpointAuditChain } from "./audit-checkpoints";
import type { AuditSigner } from "./audit-signing";
import type { Database } from "./database";
import { ConsentRequiredError } from "./errors";
import {
  attemptRow,
  grantedPairs,
  type PartnerAttemptInput,
  PartnerAttemptSchema,
  type PartnerResultInput,
  PartnerResultSchema,
  pairKey,
  resultRow,
} from "./partner-gate";
import { parseInput } from "./validation";

type Queued =
  | {
      type: "attempt";
      attempt: ReturnType<typeof PartnerAttemptSchema.parse>;
      audit: AuditContext;
      resolve: (eventId: string) => void;
      reject: (error: unknown) => void;
    }
  | {
      type: "result";
      row: AuditEventInput;
      resolve: (eventId: string) => void;
      reject: (error: unknown) => void;
    };

export interface AuditWriterOptions {
  maxBatch?: number;
  /** Signs the chain's head (a checkpoint) at most this often while rows are written. */
  signer?: AuditSigner;
  checkpointEveryMs?: number;
  /** Each checkpoint written, for the log stream (a copy outside the database). */
  onCheckpoint?: (checkpoint: AuditCheckpoint) => void;
}

export interface AuditWriter {
  /** `recordPartnerAttempt`, written together with whatever else is queued (group commit). */
  attempt(input: PartnerAttemptInput, audit: AuditContext): Promise<string>;
  /** `recordPartnerResult`, likewise. */
  result(input: PartnerResultInput, audit: AuditContext): Promise<string>;
  /** Resolves once everything queued so far is committed (or has failed). */
  flush(): Promise<void>;
  /** Signs the head of this process's chain now, if it moved since the last checkpoint. */
  checkpoint(): Promise<AuditCheckpoint | null>;
  /** Batches and rows written so far. */
  readonly stats: { batches: number; rows: number };
}

/**
 * Group commit for the audit rows of partner calls: callers queue their rows; while one
 * transaction is being written the next batch gathers, then goes in ONE transaction (this
 * process's chain lock, the consent rows FOR SHARE, one multi-row INSERT). Each caller resumes
 * when its own row is committed, so an attempt row is still durable before its request leaves.
 * Built once per api instance (`startInstance`).
 */
export function createAuditWriter(db: Database, options: AuditWriterOptions = {}): AuditWriter {
  const maxBatch = options.maxBatch ?? 256;
  const { signer } = options;
  const checkpointEveryMs = options.checkpointEveryMs ?? 10_000;
  let lastCheckpointAt = 0;
  const queue: Queued[] = [];
  let writing: Promise<void> | null = null;
  const stats = { batches: 0, rows: 0 };

  async function write(batch: Queued[]): Promise<void> {
    let events: Awaited<ReturnType<typeof appendAuditEvents>>;
    let granted = new Set<string>();
    let checkpoint: AuditCheckpoint | null = null;
    try {
      events = await db.transaction(async (tx) => {
        await lockAuditChain(tx);
        const gated = batch.flatMap((item) =>
          item.type === "attempt" && item.attempt.endsProcessing !== true ? [item.attempt] : [],
        );
        granted = await grantedPairs(tx, gated);
        const appended = await appendAuditEvents(
          tx,
          batch.map((item) =>
            item.type === "result"
              ? item.row
              : attemptRow(item.attempt, item.audit, isGranted(item)),
          ),
        );
        // The batch's last row is the head: sign it, at most once per checkpointEveryMs.
        if (signer && Date.now() - lastCheckpointAt >= checkpointEveryMs) {
          checkpoint = await checkpointAuditChain(tx, signer);
        }
        return appended;
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    stats.batches += 1;
    stats.rows += events.length;
    if (checkpoint) noteCheckpoint(checkpoint);
    batch.forEach((item, i) => {
      const eventId = events[i]?.id ?? "";
      if (item.type === "attempt" && !isGranted(item)) {
        item.reject(new ConsentRequiredError(item.attempt.purpose, eventId));
      } else item.resolve(eventId);
    });

    function isGranted(item: Extract<Queued, { type: "attempt" }>): boolean {
      return item.attempt.endsProcessing === true || granted.has(pairKey(item.attempt));
    }
  }

  function noteCheckpoint(checkpoint: AuditCheckpoint) {
    lastCheckpointAt = Date.now();
    try {
      options.onCheckpoint?.(checkpoint);
    } catch {
      // The checkpoint is committed; a failing log copy must not hold up the callers.
    }
  }

  function drain(): Promise<void> {
    if (!writing) {
      let current: Promise<void> | undefined;
      current = (async () => {
        await Promise.resolve(); // let `current` be assigned before the loop can end
        try {
          while (queue.length > 0) await write(queue.splice(0, maxBatch));
        } finally {
          // In the same step as the last look at the queue: a row queued after it starts anew.
          if (writing === current) writing = null;
        }
      })();
      writing = current;
    }
    return writing;
  }

  function enqueue(
    make: (done: { resolve: (id: string) => void; reject: (e: unknown) => void }) => Queued,
  ) {
    return new Promise<string>((resolve, reject) => {
      queue.push(make({ resolve, reject }));
      void drain();
    });
  }

  return {
    async attempt(input, audit) {
      const attempt = parseInput(PartnerAttemptSchema, input, "partner attempt");
      return enqueue((done) => ({ type: "attempt", attempt, audit, ...done }));
    },
    async result(input, audit) {
      const row = resultRow(parseInput(PartnerResultSchema, input, "partner result"), audit);
      return enqueue((done) => ({ type: "result", row, ...done }));
    },
    async flush() {
      while (writing) await writing;
    },
    async checkpoint() {
      if (!signer) return null;
      const checkpoint = await db.transaction(async (tx) => {
        await lockAuditChain(tx);
        return checkpointAuditChain(tx, signer);
      });
      if (checkpoint) noteCheckpoint(checkpoint);
      return checkpoint;
    },
    stats,
  };
}
