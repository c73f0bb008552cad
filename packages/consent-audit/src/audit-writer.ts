import {
  type AuditContext,
  type AuditEventInput,
  appendAuditEvents,
  lockAuditChain,
} from "./audit";
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

export interface AuditWriter {
  /** `recordPartnerAttempt`, written together with whatever else is queued (group commit). */
  attempt(input: PartnerAttemptInput, audit: AuditContext): Promise<string>;
  /** `recordPartnerResult`, likewise. */
  result(input: PartnerResultInput, audit: AuditContext): Promise<string>;
  /** Resolves once everything queued so far is committed (or has failed). */
  flush(): Promise<void>;
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
export function createAuditWriter(db: Database, options: { maxBatch?: number } = {}): AuditWriter {
  const maxBatch = options.maxBatch ?? 256;
  const queue: Queued[] = [];
  let writing: Promise<void> | null = null;
  const stats = { batches: 0, rows: 0 };

  async function write(batch: Queued[]): Promise<void> {
    let events: Awaited<ReturnType<typeof appendAuditEvents>>;
    let granted = new Set<string>();
    try {
      events = await db.transaction(async (tx) => {
        await lockAuditChain(tx);
        const gated = batch.flatMap((item) =>
          item.type === "attempt" && item.attempt.endsProcessing !== true ? [item.attempt] : [],
        );
        granted = await grantedPairs(tx, gated);
        return appendAuditEvents(
          tx,
          batch.map((item) =>
            item.type === "result"
              ? item.row
              : attemptRow(item.attempt, item.audit, isGranted(item)),
          ),
        );
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    stats.batches += 1;
    stats.rows += events.length;
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

  function drain(): Promise<void> {
    writing ??= (async () => {
      while (queue.length > 0) await write(queue.splice(0, maxBatch));
    })().finally(() => {
      writing = null;
    });
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
    stats,
  };
}
