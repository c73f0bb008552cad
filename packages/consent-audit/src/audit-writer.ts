import {
  type AuditContext,
  auditChainId,
  completeAuditEvent,
  type ParsedAuditEvent,
  parseAuditContext,
  parseAuditEvent,
} from "./audit";
import { type ChainHead, chainRows, emptyChain } from "./audit-chain";
import {
  type AuditCheckpoint,
  type CheckpointCadence,
  DEFAULT_CHECKPOINT_CADENCE,
  hasCheckpoint,
  type ProcessChainSigning,
  readChainHead,
  signProcessChain,
  writeCheckpoint,
} from "./audit-checkpoints";
import type { AuditSigner } from "./audit-signing";
import { type Database, type RawQuery, registeredRawQuery } from "./database";
import { ConsentRequiredError } from "./errors";
import {
  attemptRow,
  checkedAttempt,
  checkedResult,
  type DeniedInput,
  deniedRow,
  grantedPairs,
  type PartnerAttemptInput,
  type PartnerAttemptSchema,
  type PartnerResultInput,
  pairKey,
  resultRow,
} from "./partner-gate";
import { auditEvents } from "./schema/audit-events";

type ParsedAttempt = ReturnType<typeof PartnerAttemptSchema.parse>;

type Queued =
  | {
      type: "attempt";
      attempt: ParsedAttempt;
      audit: AuditContext;
      /** The `partner.request` row, checked when queued (the `access.denied` one is made if needed). */
      row: ParsedAuditEvent;
      resolve: (eventId: string) => void;
      reject: (error: unknown) => void;
    }
  | {
      /** A row nobody waits for (a `partner.response`): retried when a batch fails. */
      type: "result";
      /** Stamped with the time it was queued (the answer's), not its batch's. */
      row: ParsedAuditEvent & { at: Date };
      tries: number;
    }
  | {
      /** A row its caller waits for (an `access.denied`). */
      type: "row";
      row: ParsedAuditEvent;
      resolve: (eventId: string) => void;
      reject: (error: unknown) => void;
    };

export interface AuditWriterOptions {
  maxBatch?: number;
  /**
   * Signs the writer's chain and this process's chain (checkpoints): new rows within
   * `checkpointEveryMs`, a heartbeat every `heartbeatMs` while idle, a closing one at `close()`.
   */
  signer?: AuditSigner;
  /** Default 10 s (AUDIT_CHECKPOINT_SECONDS). */
  checkpointEveryMs?: number;
  /** Default 60 s. */
  heartbeatMs?: number;
  /** Each checkpoint committed, for the log stream (a copy outside the database). */
  onCheckpoint?: (checkpoint: AuditCheckpoint) => void;
  /** A checkpoint its timer could not sign (it tries again on the next tick). */
  onCheckpointError?: (error: unknown) => void;
  /** A batch failed to commit (its result rows are retried; its waiting callers get the error). */
  onWriteError?: (error: unknown, rows: number) => void;
  /** Result rows given up on after `resultTries` failed batches (counted and alerted on). */
  onRowsLost?: (rows: readonly ParsedAuditEvent[], error: unknown) => void;
  /** How many batches a result row may fail in before it is given up; default 8. */
  resultTries?: number;
  /** First wait before result rows of a failed batch are retried (doubling, to 5 s); default 100. */
  retryDelayMs?: number;
  /**
   * How long `partner.response` rows may wait for the next attempt's statement before they go
   * in on their own; default 20. A caller's row (an attempt, a refusal) takes them along at
   * once; rows of answers alone go at most once per linger (or when a full batch waits), so at
   * a low rate each call saves its second statement, and under load answers share commits.
   */
  resultLingerMs?: number;
  /**
   * Under load — the last batch carried at least {@link GATHER_FROM} callers waiting for their
   * rows — how long the next batch may wait for as many callers as the last one carried before
   * it goes with fewer; default 4, 0 never waits. Each batch costs the database a commit and the
   * api a socket write, so fewer, larger batches cost less CPU per row, and under load that CPU
   * is what the waiting callers queue for. A batch begun from idle never waits.
   */
  gatherMs?: number;
}

/** See `AuditWriterOptions.gatherMs`: below this many waiting callers a batch goes at once. */
export const GATHER_FROM = 4;

/** Group commit of audit rows; {@link createAuditWriter} below is the one implementation. */
export interface AuditWriter {
  /**
   * The `partner.request` row of an attempt, with the consent re-check, committed before this
   * resolves (invariant 1); without consent an `access.denied` row and `ConsentRequiredError`.
   */
  attempt(input: PartnerAttemptInput, audit: AuditContext): Promise<string>;
  /**
   * Queues the `partner.response` row of an answer and returns at once: the answer is not held
   * for it. A failed write is retried; rows still failing are reported to `onRowsLost`.
   */
  result(input: PartnerResultInput, audit: AuditContext): void;
  /** An `access.denied` row (a refusal before any request), committed before this resolves. */
  denied(input: DeniedInput, audit: AuditContext): Promise<string>;
  /** Resolves once everything queued so far is committed, retried now, or given up. */
  flush(): Promise<void>;
  /** Signs the heads of this process's chains now where they moved (or a heartbeat is due). */
  checkpoint(): Promise<AuditCheckpoint[]>;
  /**
   * Flushes, then signs the closing checkpoints (of this writer's chains, and of the process
   * chain when no other writer signs it); rows offered afterwards are refused.
   */
  close(): Promise<AuditCheckpoint[]>;
  /** The chain this writer appends to now (a new one after a failed batch). */
  readonly chainId: string;
  /**
   * Batches and rows written so far; `gateRechecks`: batches a revocation sent the slow way;
   * `pending`: rows not yet committed; `writing`: those of them in the batch being written.
   */
  readonly stats: {
    batches: number;
    rows: number;
    gateRechecks: number;
    pending: number;
    writing: number;
  };
}

const COLUMNS = [
  "chain_id",
  "chain_seq",
  "id",
  "at",
  "kind",
  "source_app",
  "instance_id",
  "client_ip",
  "request_id",
  "user_id",
  "actor",
  "operation",
  "partner",
  "purpose",
  "target",
  "attempt",
  "result",
  "error_code",
  "http_status",
  "latency_ms",
  "call_id",
  "reason",
  "trace_id",
  "prev_hash",
  "hash",
].join(", ");

const INSERT_ROWS = `insert into audit_events (${COLUMNS})
select ${COLUMNS} from json_populate_recordset(null::audit_events, $1::json)`;

/**
 * The batch in one statement, so one round trip and its own commit: the consent rows of its
 * attempts are read FOR SHARE (in key order, as `grantedPairs`), and the rows go in only if every
 * one of them is granted. A revoke's UPDATE waits for this statement's commit; a revoke already
 * committed makes the count fall short, nothing is written, and the batch takes the slow way.
 *
 * Each pair is looked up by the table's key (the LATERAL subquery with its row lock is never
 * flattened into a join): as `(user_id, purpose) in (…)` the planner, guessing 100 pairs, hashed
 * a sequential scan of every consent row from a few thousand residents on, and the statement's
 * cost grew with the estate (issue 30).
 */
export const INSERT_ROWS_IF_GRANTED = `with gate as (
  select 1 from (
    select g.user_id, g.purpose from json_to_recordset($2::json) as g(user_id text, purpose text)
    order by g.user_id, g.purpose
  ) g
  cross join lateral (
    select 1 from consent_current c
    where c.user_id = g.user_id and c.purpose = g.purpose and c.state = 'granted'
    for share of c
  ) granted
)
${INSERT_ROWS}
where (select count(*) from gate) = $3::int
returning 1 as ok`;

type Row = ReturnType<typeof chainRows<ParsedAuditEvent>>["rows"][number];

function jsonRow(row: Row): Record<string, string | number | null> {
  return {
    chain_id: row.chainId,
    chain_seq: row.chainSeq,
    id: row.id,
    at: row.at.toISOString(),
    kind: row.kind,
    source_app: row.sourceApp,
    instance_id: row.instanceId,
    client_ip: row.clientIp,
    request_id: row.requestId,
    user_id: row.userId,
    actor: row.actor,
    operation: row.operation,
    partner: row.partner,
    purpose: row.purpose,
    target: row.target,
    attempt: row.attempt,
    result: row.result,
    error_code: row.errorCode,
    http_status: row.httpStatus,
    latency_ms: row.latencyMs,
    call_id: row.callId,
    reason: row.reason,
    trace_id: row.traceId,
    prev_hash: row.prevHash,
    hash: row.hash,
  };
}

/** A row offered to a writer after `close()`: it would follow the chain's closing checkpoint. */
export class AuditWriterClosedError extends Error {
  constructor() {
    super("the audit writer is closed");
    this.name = "AuditWriterClosedError";
  }
}

let writersStarted = 0;

/**
 * Group commit for the audit rows of partner calls. Callers queue their rows; while one batch is
 * being written the next gathers, then goes in as ONE statement (one round trip). The writer has
 * a chain of its own and keeps its head in memory, so nothing else ever waits for it, and no
 * lock spans the cluster: instances are ordered by the consent rows alone. After a failed batch
 * it starts a new chain (the failed one's outcome may be unknown) and retries the result rows.
 * Built once per api instance (`startInstance`).
 */
export function createAuditWriter(db: Database, options: AuditWriterOptions = {}): AuditWriter {
  const maxBatch = options.maxBatch ?? 256;
  const { signer } = options;
  const cadence: CheckpointCadence = {
    intervalMs: options.checkpointEveryMs ?? DEFAULT_CHECKPOINT_CADENCE.intervalMs,
    heartbeatMs: options.heartbeatMs ?? DEFAULT_CHECKPOINT_CADENCE.heartbeatMs,
  };
  const resultTries = options.resultTries ?? 8;
  const retryDelayMs = options.retryDelayMs ?? 100;
  const resultLingerMs = options.resultLingerMs ?? 20;
  const gatherMs = options.gatherMs ?? 4;
  const registered = registeredRawQuery(db);
  if (!registered) throw new Error("createAuditWriter needs a database from openDatabase");
  const raw: RawQuery = registered;
  // Several writers may share a process (tests start instances side by side): each its own chains.
  const writer = ++writersStarted;
  let generation = 0;
  const chainName = () => `${auditChainId()}/w${writer}.${generation}`;
  let head: ChainHead = emptyChain(chainName());
  /** The newest checkpoint of the chain written to now; null until it is opened. */
  let signed: { chainId: string; chainSeq: number; at: number } | null = null;
  /** The chain a checkpoint was last sent for (stored, maybe, though the send failed). */
  let signingSent: string | null = null;
  /** Heads built for the batch being written: one of them may be committed if it fails. */
  let attempted: ChainHead[] = [];
  /** Chains left after a failed batch, to be closed once the database answers again. */
  const abandoned: { head: ChainHead; attempted: ChainHead[] }[] = [];
  let closed = false;
  const queue: Queued[] = [];
  const retrying: Extract<Queued, { type: "result" }>[] = [];
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let lingerTimer: ReturnType<typeof setTimeout> | undefined;
  let failuresInARow = 0;
  let writing: Promise<void> | null = null;
  let inBatch = 0;
  /** Callers waiting in `queue` (attempts and rows), and in the batch written last. */
  let waitingQueued = 0;
  let waitingLastBatch = 0;
  /** A gathering batch: its wake-up, once `waitingQueued` reaches `target`. */
  let gathering: { target: number; wake: () => void } | null = null;
  const stats = {
    batches: 0,
    rows: 0,
    gateRechecks: 0,
    get pending() {
      return queue.length + retrying.length + inBatch;
    },
    get writing() {
      return inBatch;
    },
  };

  /** Rows for `batch` after `head`; an attempt's row is its denial when `granted` says so. */
  function build(batch: readonly Queued[], granted: (item: ParsedAttempt) => boolean) {
    const contents = batch.map((item) =>
      item.type === "attempt" && !granted(item.attempt)
        ? completeAuditEvent(attemptRow(item.attempt, item.audit, false))
        : item.row,
    );
    const built = chainRows(head, contents, new Date());
    attempted.push(built.head);
    return built;
  }

  /** Fast way: one statement, every attempt taken as granted; false when the gate said no. */
  async function writeIfGranted(batch: readonly Queued[]) {
    const built = build(batch, () => true);
    const rowsJson = JSON.stringify(built.rows.map(jsonRow));
    const pairs = new Map<string, { user_id: string; purpose: string }>();
    for (const item of batch) {
      if (item.type !== "attempt" || item.attempt.endsProcessing === true) continue;
      const { userId, purpose } = item.attempt;
      pairs.set(pairKey(item.attempt), { user_id: userId, purpose });
    }
    if (pairs.size === 0) {
      await raw(INSERT_ROWS, [rowsJson]);
      return built;
    }
    const inserted = await raw(INSERT_ROWS_IF_GRANTED, [
      rowsJson,
      JSON.stringify([...pairs.values()]),
      pairs.size,
    ]);
    return inserted.length === built.rows.length ? built : null;
  }

  /** Slow way, after a revocation: which pairs are granted (FOR SHARE), then the rows to match. */
  async function writeChecked(batch: readonly Queued[]) {
    stats.gateRechecks += 1;
    return db.transaction(async (tx) => {
      const gated = batch.flatMap((item) =>
        item.type === "attempt" && item.attempt.endsProcessing !== true ? [item.attempt] : [],
      );
      const granted = await grantedPairs(tx, gated);
      const isGranted = (attempt: ParsedAttempt) =>
        attempt.endsProcessing === true || granted.has(pairKey(attempt));
      const built = build(batch, isGranted);
      await tx.insert(auditEvents).values(built.rows);
      return { ...built, isGranted };
    });
  }

  async function write(batch: Queued[]): Promise<void> {
    inBatch = batch.length;
    attempted = [];
    let outcome: Awaited<ReturnType<typeof writeChecked>>;
    try {
      // The chain's newest checkpoint is fresh before rows go in (its first one opens it), so
      // rows not yet signed always follow one younger than an interval: the chain reads as live.
      if (
        signer &&
        (signed?.chainId !== head.chainId || Date.now() - signed.at >= cadence.intervalMs)
      ) {
        signingSent = head.chainId;
        await signOwn(head);
      }
      const fast = await writeIfGranted(batch);
      outcome = fast ? { ...fast, isGranted: () => true } : await writeChecked(batch);
    } catch (error) {
      inBatch = 0;
      failed(batch, error);
      return;
    }
    inBatch = 0;
    failuresInARow = 0;
    head = outcome.head;
    stats.batches += 1;
    stats.rows += outcome.rows.length;
    batch.forEach((item, i) => {
      const eventId = outcome.rows[i]?.id ?? "";
      if (item.type === "result") return;
      if (item.type === "attempt" && !outcome.isGranted(item.attempt)) {
        item.reject(new ConsentRequiredError(item.attempt.purpose, eventId));
      } else item.resolve(eventId);
    });
  }

  /**
   * A failed batch: its waiting callers get the error (an attempt is then not sent); its result
   * rows are retried later, up to `resultTries` batches. The chain may or may not hold the
   * batch (a lost connection leaves that unknown), so the writer goes on with a new chain.
   */
  function failed(batch: readonly Queued[], error: unknown) {
    // Nothing was sent to a chain never opened: only the others need closing.
    if (signingSent === head.chainId) abandoned.push({ head, attempted });
    generation += 1;
    head = emptyChain(chainName());
    failuresInARow += 1;
    try {
      options.onWriteError?.(error, batch.length);
    } catch {
      // Reporting must not stop the callers from hearing of the failure.
    }
    const lost: ParsedAuditEvent[] = [];
    for (const item of batch) {
      if (item.type !== "result") item.reject(error);
      else if (item.tries + 1 >= resultTries) lost.push(item.row);
      else retrying.push({ ...item, tries: item.tries + 1 });
    }
    if (lost.length > 0) {
      try {
        options.onRowsLost?.(lost, error);
      } catch {
        // As above.
      }
    }
    if (retrying.length > 0 && !retryTimer) {
      const delay = Math.min(5_000, retryDelayMs * 2 ** (failuresInARow - 1));
      retryTimer = setTimeout(retryNow, delay);
    }
  }

  function retryNow() {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    if (retrying.length === 0) return;
    queue.unshift(...retrying.splice(0));
    void drain();
  }

  /** Signs `current`, a committed head of the chain written to now. */
  async function signOwn(current: ChainHead, closing = false): Promise<AuditCheckpoint> {
    if (!signer) throw new Error("no signer");
    const checkpoint = await writeCheckpoint(db, signer, current, { cadence, closing });
    if (current.chainId === head.chainId)
      signed = {
        chainId: current.chainId,
        chainSeq: current.chainSeq,
        at: checkpoint.at.getTime(),
      };
    noteCheckpoint(checkpoint);
    return checkpoint;
  }

  function noteCheckpoint(checkpoint: AuditCheckpoint) {
    try {
      options.onCheckpoint?.(checkpoint);
    } catch {
      // The checkpoint is committed; a failing log copy must not hold up the callers.
    }
  }

  /**
   * Closes the chains a failed batch left: at the head the database holds, when it is one this
   * writer built (the failed batch may have committed after all), else at the last one it knew.
   */
  async function closeAbandoned(): Promise<AuditCheckpoint[]> {
    const written: AuditCheckpoint[] = [];
    while (signer && abandoned.length > 0) {
      const chain = abandoned[0] as (typeof abandoned)[number];
      const stored = await readChainHead(db, chain.head.chainId);
      const known = [chain.head, ...chain.attempted].find(
        (candidate) =>
          candidate.chainSeq === (stored?.chainSeq ?? 0) &&
          (stored === null || candidate.hash === stored.hash),
      );
      if (stored || (await hasCheckpoint(db, chain.head.chainId)))
        written.push(await signOwn(known ?? chain.head, true));
      abandoned.shift();
    }
    return written;
  }

  /** The writer's chain, where it moved or a heartbeat is due; then the process chain. */
  async function tick(): Promise<AuditCheckpoint[]> {
    if (!signer || closed) return []; // closed: nothing may follow the closing checkpoints
    const written = await closeAbandoned();
    const current = head;
    if (
      signed?.chainId === current.chainId &&
      (current.chainSeq > signed.chainSeq || Date.now() - signed.at >= cadence.heartbeatMs)
    )
      written.push(await signOwn(current));
    if (processChain) written.push(...(await processChain.tick()));
    return written;
  }

  let ticking: Promise<AuditCheckpoint[]> | null = null;
  function tickOnce(): Promise<AuditCheckpoint[]> {
    ticking ??= tick().finally(() => {
      ticking = null;
    });
    return ticking;
  }

  /**
   * Signs the heads as they are now: a tick already running may have read them before the
   * caller's rows went in, so it is waited out and a tick of our own (or one started since) runs.
   */
  async function checkpointNow(): Promise<AuditCheckpoint[]> {
    const running = ticking;
    if (running) await running.catch(() => []);
    return tickOnce();
  }

  const processChain: ProcessChainSigning | null = signer
    ? signProcessChain(db, signer, {
        cadence,
        onCheckpoint: noteCheckpoint,
        onError: (error) => options.onCheckpointError?.(error),
      })
    : null;
  // Half an interval: rows are signed within one even when the timer runs late.
  const timer = signer
    ? setInterval(
        () => void tickOnce().catch((error) => options.onCheckpointError?.(error)),
        Math.max(10, Math.min(cadence.intervalMs, cadence.heartbeatMs) / 2),
      )
    : undefined;
  timer?.unref();

  /** Result rows only: written when an attempt comes, or after `resultLingerMs` at the latest. */
  function drainSoon() {
    if (writing || lingerTimer) return;
    if (resultLingerMs <= 0) {
      void drain();
      return;
    }
    lingerTimer = setTimeout(() => {
      lingerTimer = undefined;
      void drain();
    }, resultLingerMs);
  }

  function drain(): Promise<void> {
    if (lingerTimer) {
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
    }
    if (!writing) {
      let current: Promise<void> | undefined;
      let lingerNext = false;
      current = (async () => {
        await Promise.resolve(); // let `current` be assigned before the loop can end
        try {
          let fromIdle = true;
          while (queue.length > 0) {
            if (!fromIdle) {
              // Answers' rows alone wait out their linger; a caller's row would take them now.
              if (waitingQueued === 0 && resultLingerMs > 0 && queue.length < maxBatch) {
                lingerNext = true;
                break;
              }
              await gather();
            }
            fromIdle = false;
            const batch = queue.splice(0, maxBatch);
            waitingLastBatch = batch.filter((item) => item.type !== "result").length;
            waitingQueued -= waitingLastBatch;
            await write(batch);
          }
        } finally {
          // In the same step as the last look at the queue: a row queued after it starts anew.
          if (writing === current) writing = null;
          if (lingerNext) drainSoon();
        }
      })();
      writing = current;
    }
    return writing;
  }

  /**
   * Under load, waits up to `gatherMs` for as many waiting callers as the last batch carried
   * (see `AuditWriterOptions.gatherMs`); at once when the load is light or a caller is closing.
   */
  function gather(): Promise<void> | undefined {
    const target = waitingLastBatch;
    if (gatherMs <= 0 || closed || target < GATHER_FROM || waitingQueued >= target) return;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => wake(), gatherMs);
      const wake = () => {
        clearTimeout(timer);
        gathering = null;
        resolve();
      };
      gathering = { target, wake };
    });
  }

  function waitFor(
    make: (done: Pick<Extract<Queued, { type: "row" }>, "resolve" | "reject">) => Queued,
  ) {
    return new Promise<string>((resolve, reject) => {
      if (closed) {
        reject(new AuditWriterClosedError());
        return;
      }
      queue.push(make({ resolve, reject }));
      waitingQueued += 1;
      if (gathering && waitingQueued >= gathering.target) gathering.wake();
      void drain();
    });
  }

  async function flush() {
    for (;;) {
      if (retrying.length > 0) retryNow();
      if (lingerTimer) void drain(); // answers' rows waiting for an attempt go now
      if (!writing) return;
      await writing;
    }
  }

  return {
    async attempt(input, audit) {
      // Checked field by field here and in the context, so the row needs no second check.
      const attempt = checkedAttempt(input);
      const context = parseAuditContext(audit);
      const row = completeAuditEvent(attemptRow(attempt, context, true));
      return waitFor((done) => ({ type: "attempt", attempt, audit: context, row, ...done }));
    },
    result(input, audit) {
      const result = checkedResult(input);
      const row = {
        ...completeAuditEvent(resultRow(result, parseAuditContext(audit))),
        at: new Date(),
      };
      if (closed) {
        options.onRowsLost?.([row], new AuditWriterClosedError());
        return;
      }
      queue.push({ type: "result", row, tries: 0 });
      drainSoon();
    },
    async denied(input, audit) {
      const row = parseAuditEvent(deniedRow(input, audit));
      return waitFor((done) => ({ type: "row", row, ...done }));
    },
    flush,
    checkpoint: checkpointNow,
    async close() {
      await flush();
      closed = true;
      clearInterval(timer);
      await ticking?.catch(() => {});
      await flush(); // rows queued before `closed` was set
      const written: AuditCheckpoint[] = [];
      try {
        written.push(...(await closeAbandoned()));
        if (signed?.chainId === head.chainId) written.push(await signOwn(head, true));
      } finally {
        if (processChain) written.push(...(await processChain.release()));
      }
      return written;
    },
    get chainId() {
      return head.chainId;
    },
    stats,
  };
}

/** How long answers' rows gather on their own chain (`createCallAuditWriter`). */
export const ANSWER_LINGER_MS = 100;

/**
 * An api instance's writer: attempts and refusals on one chain, answers (`partner.response`) on
 * a second, each a {@link createAuditWriter} of its own. An answer's row then never rides in the
 * next attempt's statement, whose commit a caller waits for before its partner request leaves
 * (invariant 1): answers go in their own batches at most once per `answerLingerMs` (default
 * {@link ANSWER_LINGER_MS}), on another connection, and share one commit among many calls.
 * `flush`, `checkpoint` and `close` cover both chains; `chainId` is the attempts' chain.
 */
export function createCallAuditWriter(
  db: Database,
  options: AuditWriterOptions & { answerLingerMs?: number } = {},
): AuditWriter {
  const { answerLingerMs = ANSWER_LINGER_MS, ...shared } = options;
  const calls = createAuditWriter(db, shared);
  const answers = createAuditWriter(db, { ...shared, resultLingerMs: answerLingerMs });
  const both = [calls, answers] as const;
  const sum = (field: keyof AuditWriter["stats"]) => calls.stats[field] + answers.stats[field];
  return {
    attempt: (input, audit) => calls.attempt(input, audit),
    result: (input, audit) => answers.result(input, audit),
    denied: (input, audit) => calls.denied(input, audit),
    async flush() {
      await Promise.all(both.map((writer) => writer.flush()));
    },
    async checkpoint() {
      return (await Promise.all(both.map((writer) => writer.checkpoint()))).flat();
    },
    async close() {
      // One after the other: the last to let go of the process chain signs its closing checkpoint.
      const closing = await answers.close();
      return [...closing, ...(await calls.close())];
    },
    get chainId() {
      return calls.chainId;
    },
    stats: {
      get batches() {
        return sum("batches");
      },
      get rows() {
        return sum("rows");
      },
      get gateRechecks() {
        return sum("gateRechecks");
      },
      get pending() {
        return sum("pending");
      },
      get writing() {
        return sum("writing");
      },
    },
  };
}
