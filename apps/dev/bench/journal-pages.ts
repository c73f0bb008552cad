import { type ListJournalQuery, listJournal, pruneJournal } from "@propgate/consent-audit";
import { journalEntries } from "@propgate/consent-audit/schema";
import { createTestDatabase } from "@propgate/consent-audit/testing";
import { desc, eq, sql } from "drizzle-orm";
import { percentile } from "./stats.ts";

/** One `events.list` page shape, timed over the measured runs. */
export interface JournalPageTiming {
  name: string;
  p50: number;
  p95: number;
  entries: number;
}

export interface JournalFigures {
  rows: number;
  residents: number;
  hotResidents: number;
  /** Entries of one hot resident, and of the typical resident measured. */
  hotRows: number;
  typicalRows: number;
  runs: number;
  seedSeconds: number;
  pages: JournalPageTiming[];
  /** The page shape with the highest p95. */
  worst: JournalPageTiming;
  prune: { batch: number; ms: number; entries: number };
}

/** Of every 5 rows one goes to a hot resident (a concierge's flat, a busy gate): 20 % of them. */
const HOT_SHARE = 5;
const HOT_RESIDENTS = 5;
const DAY_MS = 86_400_000;
/** The journal spans this many days, so the rows past `JOURNAL_RETENTION_DAYS` (90) are prunable. */
const SPAN_DAYS = 120;
const RETENTION_DAYS = 90;
const PRUNE_BATCH = 5000;

/**
 * `events.list`'s work at `rows` journal entries, in a throwaway database: rows made by one
 * `generate_series` INSERT over `residents` residents (a few hot ones hold a fifth of them; the
 * rest ~rows/residents each), call and access events at their building's panel and gate over
 * 120 days, each with the delivered webhook message the relay keeps beside it; then ANALYZE and
 * `listJournal` pages (plus the answer's JSON) for a hot and a typical resident: the newest page,
 * a page deep by cursor, by device (also deep), since a day, a week and 30 days (also by device).
 * `runs` rounds after one unmeasured warm-up round; p50/p95 per page shape. Last, one
 * `pruneJournal` batch past the 90-day retention.
 */
export async function measureJournalPages(
  rows: number,
  options: { residents: number; runs: number },
): Promise<JournalFigures> {
  const { residents, runs } = options;
  const database = await createTestDatabase();
  try {
    const seedStarted = performance.now();
    const end = Date.now();
    const start = end - SPAN_DAYS * DAY_MS;
    const step = (end - start) / rows / 1000;
    const typicalCount = residents - HOT_RESIDENTS;
    // Row i happens at start + i·step: seq order is time order, as the journal is written. The
    // typical residents take the other rows round robin in a scrambled order (7919 is prime).
    // 100 residents to a building: its entrance panel, its camera and a gate for 5 buildings.
    await database.db.execute(sql`
      insert into journal_entries (id, user_id, kind, device_id, camera_id, unit_id, method,
        outcome, duration_seconds, occurred_at, recorded_at, source_event_id)
      select 'jrn_' || lpad(i::text, 20, '0'), 'bench-res-' || u,
        case when s < 5 then 'call.incoming' when s < 10 then 'call.ended'
          when s < 18 then 'access.granted' else 'access.denied' end,
        case when s >= 10 and i % 3 = 0 then 'gate-' || (u / 500) else 'panel-' || (u / 100) end,
        case when s < 5 then 'cam-' || (u / 100) end,
        case when s < 10 then 'unit-' || u end,
        case when s >= 10 then (array['app', 'key', 'code', 'face', 'plate', 'call'])[1 + i % 6] end,
        case when s between 5 and 9 then (case when i % 3 = 0 then 'missed' else 'answered' end) end,
        case when s between 5 and 9 then (i % 120) end,
        to_timestamp(${start / 1000}::float8 + i * ${step}::float8),
        to_timestamp(${start / 1000}::float8 + i * ${step}::float8 + 1),
        'evt_bench' || i
      from (
        select i, i % 20 as s,
          case when i % ${HOT_SHARE}::int = 0 then (i / ${HOT_SHARE}::int) % ${HOT_RESIDENTS}::int
            else ${HOT_RESIDENTS}::int + ((i - i / ${HOT_SHARE}::int) * 7919) % ${typicalCount}::int
          end as u
        from generate_series(1, ${rows}::bigint) as i
      ) as g`);
    await database.db.execute(sql`
      insert into webhook_outbox (id, user_id, journal_seq, event_type, payload, priority, status,
        attempts, next_attempt_at, created_at, delivered_at)
      select 'msg_' || substr(id, 5), user_id, seq, kind,
        jsonb_build_object('type', kind, 'timestamp', occurred_at,
          'data', jsonb_build_object('id', id, 'userId', user_id, 'deviceId', device_id)),
        case when kind = 'call.incoming' then 0 else 1 end, 'delivered', 1, recorded_at,
        recorded_at, recorded_at
      from journal_entries`);
    await database.db.execute(sql`vacuum analyze journal_entries`);
    await database.db.execute(sql`vacuum analyze webhook_outbox`);
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const hot = "bench-res-0";
    // Resident 12,345 (or one in the middle of a smaller run): a typical flat.
    const typical = `bench-res-${HOT_RESIDENTS + (12_345 % typicalCount)}`;
    const count = (userId: string) =>
      database.db.$count(journalEntries, eq(journalEntries.userId, userId));
    const hotRows = await count(hot);
    const typicalRows = await count(typical);
    // The deep cursor: the page after the one `listJournal` would end at half the resident's rows.
    const middleCursor = async (userId: string) => {
      const [row] = await database.db
        .select({ seq: journalEntries.seq })
        .from(journalEntries)
        .where(eq(journalEntries.userId, userId))
        .orderBy(desc(journalEntries.seq))
        .offset(Math.floor((userId === hot ? hotRows : typicalRows) / 2))
        .limit(1);
      const seq = row?.seq ?? 1;
      return Buffer.from(`j1.${seq}`).toString("base64url");
    };
    const ago = (days: number) => new Date(end - days * DAY_MS);
    const shapes: Record<string, [string, ListJournalQuery]> = {};
    for (const [label, userId, building] of [
      ["hot", hot, 0],
      ["typical", typical, Math.floor((HOT_RESIDENTS + (12_345 % typicalCount)) / 100)],
    ] as const) {
      const cursor = await middleCursor(userId);
      shapes[`${label}: newest page`] = [userId, {}];
      shapes[`${label}: page deep by cursor`] = [userId, { cursor }];
      shapes[`${label}: deviceId (gate)`] = [
        userId,
        { deviceId: `gate-${Math.floor(building / 5)}` },
      ];
      shapes[`${label}: deviceId, deep`] = [userId, { deviceId: `panel-${building}`, cursor }];
      shapes[`${label}: since a day`] = [userId, { since: ago(1) }];
      shapes[`${label}: since a week`] = [userId, { since: ago(7) }];
      shapes[`${label}: since 30 days`] = [userId, { since: ago(30) }];
      shapes[`${label}: since a day + deviceId`] = [
        userId,
        { since: ago(1), deviceId: `panel-${building}` },
      ];
      // The app's second page of that filter: the cursor its first page gave.
      const filter = { since: ago(7), deviceId: `panel-${building}` };
      const { nextCursor } = await listJournal(database.db, userId, filter);
      shapes[`${label}: since a week + deviceId, page 2`] = [
        userId,
        nextCursor ? { ...filter, cursor: nextCursor } : filter,
      ];
    }
    const timings = new Map<string, number[]>();
    const entries = new Map<string, number>();
    for (let round = 0; round <= runs; round++) {
      for (const [name, [userId, query]] of Object.entries(shapes)) {
        const started = performance.now();
        const page = await listJournal(database.db, userId, query);
        JSON.stringify(page);
        const ms = performance.now() - started;
        // Round 0 warms the pool and the caches; it is left out.
        if (round > 0) timings.set(name, [...(timings.get(name) ?? []), ms]);
        entries.set(name, page.entries.length);
      }
    }
    const pages = [...timings].map(([name, ms]) => ({
      name,
      p50: percentile(ms, 50),
      p95: percentile(ms, 95),
      entries: entries.get(name) ?? 0,
    }));
    const worst = pages.reduce((a, b) => (b.p95 > a.p95 ? b : a));

    const bound = new Date(end - RETENTION_DAYS * DAY_MS);
    const pruneStarted = performance.now();
    const pruned = await pruneJournal(database.db, bound, PRUNE_BATCH);
    const prune = {
      batch: PRUNE_BATCH,
      ms: performance.now() - pruneStarted,
      entries: pruned.entries,
    };
    return {
      rows,
      residents,
      hotResidents: HOT_RESIDENTS,
      hotRows,
      typicalRows,
      runs,
      seedSeconds,
      pages,
      worst,
      prune,
    };
  } finally {
    await database.close();
  }
}
