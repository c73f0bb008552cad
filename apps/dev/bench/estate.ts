import type { Database } from "@propgate/consent-audit";
import { sql } from "drizzle-orm";
import { timeAuditPages } from "./audit-pages.ts";
import type { ServerWrites } from "./server-writes.ts";

/** The door opens of one estate phase (medians of its repetitions) and the server's writing. */
export interface EstateDoorOpens {
  p50: number;
  p99: number;
  cpuMs: number;
  dbCpuMs: number;
  pacedP50: number;
  /** What the server wrote during its runs; null without a PostgreSQL to ask. */
  writes: ServerWrites | null;
}

/** A large developer's estate (issue 30): what `--estate` grows the large estate's database to. */
export const LARGE_ESTATE = { devices: 100_000, residents: 1_000_000, auditRows: 10_000_000 };

export interface EstateSize {
  devices: number;
  residents: number;
  auditRows: number;
}

/**
 * Grows a bench stack's database (the one its measured api serves from) to `size`, each table by
 * one `generate_series` INSERT, never through the api: devices at 1,000 sites, residents each
 * with a granted `intercom` consent and a partner subject, audit rows over a year of one chain
 * of their own (their hashes are not a chain: `audit verify` is timed on a real one apart).
 * Then VACUUM ANALYZE, as autovacuum would leave the tables, and a CHECKPOINT, so the growth's
 * writes are not paid during the measured door opens. Returns the seconds each took.
 */
export async function growEstate(
  db: Database,
  size: EstateSize,
): Promise<{
  seconds: Record<string, number>;
  auditStart: number;
  seqOffset: number;
  step: number;
}> {
  const seconds: Record<string, number> = {};
  const timed = async (name: string, run: () => Promise<unknown>) => {
    const started = performance.now();
    await run();
    seconds[name] = (performance.now() - started) / 1000;
  };
  await timed("devices", () =>
    db.execute(sql`
      insert into devices (id, kind, site_id, partner, partner_device_id, name)
      select 'estate-door-' || i, case when i % 10 = 0 then 'gate' else 'door' end,
        'estate-site-' || (i % 1000), case when i % 10 = 0 then 'barrier' else 'intercom' end,
        'estate-pd-' || i, 'Estate device ' || i
      from generate_series(1, ${size.devices}) as i`),
  );
  const [notice] = (await db.execute(
    sql`select max(version) as version from notices where purpose = 'intercom'`,
  )) as unknown as Array<{ version: number | null }>;
  await timed("consents", () =>
    db.execute(sql`
      insert into consent_current (user_id, purpose, state, notice_version)
      select 'estate-user-' || i, 'intercom', 'granted', ${notice?.version ?? 1}
      from generate_series(1, ${size.residents}) as i`),
  );
  await timed("partner subjects", () =>
    db.execute(sql`
      insert into partner_subjects (partner, subject, user_id, sites)
      select 'intercom', encode(sha256(('estate-' || i)::bytea), 'base64'), 'estate-user-' || i,
        array['estate-site-' || (i % 1000)]
      from generate_series(1, ${size.residents}) as i`),
  );
  const [before] = (await db.execute(
    sql`select coalesce(max(seq), 0)::bigint as seq from audit_events`,
  )) as unknown as Array<{ seq: string | number }>;
  const auditStart = Date.UTC(2025, 0, 1);
  // One row a second would span 116 days at 10 M: spread them over a year instead.
  const step = Math.max(1, Math.floor((365 * 86_400) / Math.max(1, size.auditRows)));
  await timed("audit rows", () =>
    db.execute(sql`
      insert into audit_events (chain_id, chain_seq, id, at, kind, source_app, instance_id,
        user_id, operation, partner, purpose, target, attempt, result, prev_hash, hash)
      select 'bench/estate', i, 'evt_estate' || lpad(i::text, 12, '0'),
        to_timestamp(${auditStart / 1000} + i * ${step}),
        case when i % 50 = 0 then 'access.denied' else 'partner.request' end,
        'bench', 'bench', 'user-' || (i % 1000),
        case when i % 2 = 0 then 'intercom.open' else 'barrier.open' end,
        case when i % 2 = 0 then 'intercom' else 'barrier' end,
        case when i % 2 = 0 then 'intercom' else 'barrier' end,
        'door-' || (i % 500), 1, case when i % 50 = 0 then 'denied' else 'pending' end,
        repeat('0', 64), repeat('0', 64)
      from generate_series(1, ${size.auditRows}) as i`),
  );
  await timed("vacuum analyze", () =>
    db.execute(sql`vacuum analyze devices, consent_current, partner_subjects, audit_events`),
  );
  // Gigabytes of WAL behind it: without a checkpoint now, the one the growth set off writes them
  // out during the door opens measured next, on the same two cores.
  await timed("checkpoint", () => db.execute(sql`checkpoint`));
  return { seconds, auditStart, seqOffset: Number(before?.seq ?? 0), step };
}

/** The admin audit page's timings over the estate's rows (`timeAuditPages`, one second → `step`). */
export function timeEstatePages(
  db: Database,
  size: EstateSize,
  grown: { auditStart: number; seqOffset: number; step: number },
) {
  return timeAuditPages(db, size.auditRows, grown.auditStart, grown.seqOffset, grown.step * 1000);
}
