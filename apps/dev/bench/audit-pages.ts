import { type AuditPageQuery, type Database, pageAuditEvents } from "@propgate/consent-audit";
import { createTestDatabase } from "@propgate/consent-audit/testing";
import { sql } from "drizzle-orm";

/**
 * `admin.audit.list`'s work at `rows` audit rows, in a throwaway database: rows made by one
 * `generate_series` INSERT (their hashes are not a chain: nothing here verifies), then pages read
 * with `pageAuditEvents` and serialized as the procedure's answer is — the newest page, pages deep
 * in the table both ways, and every filter the admin screen has. Returns the worst and the median
 * milliseconds per page.
 */
export async function measureAuditPages(rows: number): Promise<{
  rows: number;
  pages: number;
  medianMs: number;
  worstMs: number;
  worstQuery: string;
}> {
  const database = await createTestDatabase();
  try {
    const start = Date.UTC(2026, 0, 1);
    await database.db.execute(sql`
      insert into audit_events (chain_id, chain_seq, id, at, kind, source_app, instance_id,
        user_id, operation, partner, purpose, target, attempt, result, prev_hash, hash)
      select 'bench/pages', i, 'evt_bench' || lpad(i::text, 12, '0'),
        to_timestamp(${start / 1000} + i), case when i % 50 = 0 then 'access.denied' else 'partner.request' end,
        'bench', 'bench', 'user-' || (i % 1000),
        case when i % 2 = 0 then 'intercom.open' else 'barrier.open' end,
        case when i % 2 = 0 then 'intercom' else 'barrier' end,
        case when i % 2 = 0 then 'intercom' else 'barrier' end,
        'door-' || (i % 500), 1, case when i % 50 = 0 then 'denied' else 'pending' end,
        repeat('0', 64), repeat('0', 64)
      from generate_series(1, ${rows}) as i`);
    await database.db.execute(sql`vacuum analyze audit_events`);
    return { rows, ...(await timeAuditPages(database.db, rows, start)) };
  } finally {
    await database.close();
  }
}

/**
 * The page timings of `measureAuditPages` over rows already in `db`, seeded as it seeds them
 * (`evt_bench…` ids, `at` one second apart from `start`, users, doors and partners by `i`), their
 * seqs following `seqOffset` (the rows the table held before).
 */
export async function timeAuditPages(
  db: Database,
  rows: number,
  start: number,
  seqOffset = 0,
  stepMs = 1000,
): Promise<{ pages: number; medianMs: number; worstMs: number; worstQuery: string }> {
  {
    const at = (i: number) => new Date(start + i * stepMs);
    const middle = seqOffset + Math.floor(rows / 2);
    const queries: Record<string, AuditPageQuery> = {
      newest: {},
      "older from the middle": { cursor: `before:${middle}` },
      "newer from the middle": { cursor: `after:${middle}` },
      "oldest page": { cursor: `after:${seqOffset + 1}` },
      "user id": { userId: "user-7" },
      "user id, deep": { userId: "user-7", cursor: `before:${middle}` },
      target: { target: "door-3", cursor: `before:${middle}` },
      "result denied": { result: "denied", cursor: `before:${middle}` },
      "kind + result": { kind: "access.denied", result: "denied" },
      partner: { partner: "barrier", cursor: `before:${middle}` },
      operation: { operation: "intercom.open" },
      "time range (old)": { from: at(1000), to: at(2000) },
      "time range + partner": {
        from: at(Math.floor(rows / 2)),
        to: at(Math.floor(rows / 2) + 3600),
        partner: "intercom",
      },
      "time range + user": { from: at(0), to: at(Math.floor(rows / 2)), userId: "user-9" },
    };
    const timings: { name: string; ms: number }[] = [];
    for (let round = 0; round < 5; round++) {
      for (const [name, query] of Object.entries(queries)) {
        const started = performance.now();
        const page = await pageAuditEvents(db, { limit: 100, ...query });
        JSON.stringify(page);
        timings.push({ name, ms: performance.now() - started });
      }
    }
    // The first round warms the pool and the caches; it is left out.
    const measured = timings.slice(Object.keys(queries).length);
    const sorted = measured.map((t) => t.ms).sort((a, b) => a - b);
    const worst = measured.reduce((a, b) => (b.ms > a.ms ? b : a));
    return {
      pages: measured.length,
      medianMs: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
      worstMs: worst.ms,
      worstQuery: worst.name,
    };
  }
}
