import { RateLimitedError, ServiceUnavailableError } from "../errors.ts";

/** What the journal's NOTIFY says: a row for this resident committed at this seq. */
export interface JournalNotice {
  userId: string;
  seq: number;
}

export interface EventHubOptions<E extends { seq: number }> {
  /** The resident's journal rows after `afterSeq`, oldest first, at most `limit`. */
  readSince(userId: string, afterSeq: number, limit: number): Promise<E[]>;
  /** The resident's newest seq (0 with none): where a stream without a resume point starts. */
  latestSeq(userId: string): Promise<number>;
  /** Open streams one resident may hold on this instance (EVENTS_MAX_STREAMS_PER_RESIDENT). */
  maxStreamsPerResident: number;
  /** Open streams on this instance, all residents together (EVENTS_MAX_STREAMS). */
  maxStreams: number;
  /** Rows read per query (default 100). */
  batch?: number;
}

export interface OpenOptions {
  /** The client went away: the stream ends quietly. */
  signal?: AbortSignal;
  /**
   * Checked once the stream is registered, so a revocation announced during the check still
   * reaches it; throws to refuse (no consent).
   */
  admit?: () => Promise<void>;
}

/**
 * One instance's live journal streams, by resident. A notice wakes the resident's streams, and
 * each reads its rows after the last seq it sent: a notice is only a wake-up, so one arriving
 * while a read runs is never lost (the stream reads again) and no seq is sent twice.
 */
export interface ResidentEventHub<E extends { seq: number }> {
  /**
   * The resident's rows after `afterSeq` (null: from now on), then each new one as its notice
   * arrives.
   */
  open(userId: string, afterSeq: number | null, options?: OpenOptions): AsyncGenerator<E, void>;
  /** A journal NOTIFY (from any instance). */
  notify(notice: JournalNotice): void;
  /** The bus reconnected, notices may be lost: every stream reads again. */
  resync(): void;
  /** Ends the resident's streams with `error` (their `journal` consent was revoked). */
  endResident(userId: string, error: Error): number;
  /** The residents with a stream open here (to re-check their consent after a missed notice). */
  residents(): string[];
  /** Refuses new streams and ends the open ones with `error` (the instance stops). */
  close(error: Error): void;
  readonly openStreams: number;
}

interface Stream {
  userId: string;
  lastSeq: number;
  /**
   * A late commit at or below it is not the stream's to send: the resume point, or -1 for a
   * stream started without one (everything committed after it registered is its own).
   */
  floor: number;
  /** There may be rows after `lastSeq`. */
  dirty: boolean;
  /** Seqs at or below `lastSeq` whose rows committed after the read that passed them. */
  late: Set<number>;
  /** Seqs sent lately, so a late notice never sends a row twice. */
  sent: Set<number>;
  ending: Error | null;
  wake: () => void;
}

const SENT_REMEMBERED = 256;

export function createResidentEventHub<E extends { seq: number }>(
  options: EventHubOptions<E>,
): ResidentEventHub<E> {
  const batch = options.batch ?? 100;
  const byResident = new Map<string, Set<Stream>>();
  let open = 0;
  let closed: Error | null = null;

  const register = (userId: string, afterSeq: number): Stream => {
    if (closed) throw closed;
    const mine = byResident.get(userId) ?? new Set<Stream>();
    if (mine.size >= options.maxStreamsPerResident) {
      throw new RateLimitedError(
        `at most ${options.maxStreamsPerResident} event streams per resident are open at once; close one first`,
        30,
      );
    }
    if (open >= options.maxStreams) {
      throw new ServiceUnavailableError("this instance holds as many event streams as it may", 5);
    }
    const stream: Stream = {
      userId,
      lastSeq: afterSeq,
      floor: afterSeq,
      dirty: true,
      late: new Set(),
      sent: new Set(),
      ending: null,
      wake: () => {},
    };
    mine.add(stream);
    byResident.set(userId, mine);
    open++;
    return stream;
  };
  const unregister = (stream: Stream) => {
    const mine = byResident.get(stream.userId);
    if (!mine?.delete(stream)) return;
    open--;
    if (mine.size === 0) byResident.delete(stream.userId);
  };
  const remember = (stream: Stream, seq: number) => {
    stream.sent.add(seq);
    if (stream.sent.size > SENT_REMEMBERED) {
      const oldest = stream.sent.values().next().value;
      if (oldest !== undefined) stream.sent.delete(oldest);
    }
  };
  const sleep = (stream: Stream, signal: AbortSignal | undefined) =>
    new Promise<void>((resolve) => {
      const done = () => {
        signal?.removeEventListener("abort", done);
        stream.wake = () => {};
        resolve();
      };
      stream.wake = done;
      signal?.addEventListener("abort", done, { once: true });
      if (signal?.aborted) done();
    });

  async function* run(
    userId: string,
    afterSeq: number | null,
    opts: OpenOptions,
  ): AsyncGenerator<E> {
    const { signal } = opts;
    // Registered before anything is read, so no notice after this point is missed.
    const stream = register(userId, afterSeq ?? Number.MAX_SAFE_INTEGER);
    if (afterSeq === null) stream.floor = -1; // every notice until the newest seq is known
    try {
      await opts.admit?.();
      if (afterSeq === null) {
        const latest = await options.latestSeq(userId);
        // "From now on" starts at registration: a row announced since then is the stream's, even
        // when the read of the newest seq already counted it. Those after `latest` the first read
        // fetches; those at or below it stay late, to be sent by seq. The floor stays below every
        // seq, since any notice from here on is for a row committed after the stream registered.
        stream.dirty = false;
        for (const seq of stream.late) {
          if (seq <= latest) continue;
          stream.dirty = true;
          stream.late.delete(seq);
        }
        stream.lastSeq = latest;
      }
      for (;;) {
        if (stream.ending) throw stream.ending;
        if (signal?.aborted) return;
        if (stream.dirty) {
          stream.dirty = false;
          const rows = await options.readSince(userId, stream.lastSeq, batch);
          for (const row of rows) {
            // A revocation during the read erased these rows: none of them leaves.
            if (stream.ending) throw stream.ending;
            if (row.seq <= stream.lastSeq) continue;
            stream.lastSeq = row.seq;
            stream.late.delete(row.seq);
            remember(stream, row.seq);
            yield row;
          }
          if (rows.length === batch) stream.dirty = true;
          continue;
        }
        if (stream.late.size > 0) {
          const seqs = [...stream.late].sort((a, b) => a - b);
          stream.late.clear();
          for (const seq of seqs) {
            if (stream.sent.has(seq)) continue;
            const [row] = await options.readSince(userId, seq - 1, 1);
            if (stream.ending) throw stream.ending;
            if (row?.seq !== seq || stream.sent.has(seq)) continue;
            remember(stream, seq);
            yield row;
          }
          continue;
        }
        await sleep(stream, signal);
      }
    } finally {
      unregister(stream);
    }
  }

  return {
    open: (userId, afterSeq, opts = {}) => run(userId, afterSeq, opts),
    notify({ userId, seq }) {
      for (const stream of byResident.get(userId) ?? []) {
        if (seq > stream.lastSeq) stream.dirty = true;
        else if (seq > stream.floor && !stream.sent.has(seq)) stream.late.add(seq);
        stream.wake();
      }
    },
    resync() {
      for (const streams of byResident.values()) {
        for (const stream of streams) {
          stream.dirty = true;
          stream.wake();
        }
      }
    },
    endResident(userId, error) {
      const streams = [...(byResident.get(userId) ?? [])];
      for (const stream of streams) {
        stream.ending = error;
        stream.wake();
      }
      return streams.length;
    },
    residents: () => [...byResident.keys()],
    close(error) {
      closed = error;
      for (const streams of byResident.values()) {
        for (const stream of streams) {
          stream.ending = error;
          stream.wake();
        }
      }
    },
    get openStreams() {
      return open;
    },
  };
}
