import type { SQL } from "bun";

export interface Activity {
  samples: number;
  /** Mean number of the bench database's backends waiting on an advisory lock. */
  advisoryWaiting: number;
  /** Mean number waiting on any lock (advisory included). */
  lockWaiting: number;
  /** Mean number running a statement (waiting or not). */
  active: number;
}

/**
 * Samples `pg_stat_activity` of `database` every `everyMs` until `stop()`: how many of the api's
 * backends queue on a lock (the audit chain's advisory lock, say) while under load.
 */
export function sampleActivity(
  sql: SQL,
  database: string,
  everyMs = 100,
): { stop(): Promise<Activity> } {
  const totals = { samples: 0, advisoryWaiting: 0, lockWaiting: 0, active: 0 };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const [row] = await sql<Array<{ advisory: number; locks: number; active: number }>>`
        select count(*) filter (where wait_event_type = 'Lock' and wait_event = 'advisory')::int
                 as advisory,
               count(*) filter (where wait_event_type = 'Lock')::int as locks,
               count(*) filter (where state = 'active')::int as active
          from pg_stat_activity
         where datname = ${database} and pid <> pg_backend_pid()`;
      if (row) {
        totals.samples += 1;
        totals.advisoryWaiting += row.advisory;
        totals.lockWaiting += row.locks;
        totals.active += row.active;
      }
      await Bun.sleep(everyMs);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      const n = Math.max(1, totals.samples);
      return {
        samples: totals.samples,
        advisoryWaiting: totals.advisoryWaiting / n,
        lockWaiting: totals.lockWaiting / n,
        active: totals.active / n,
      };
    },
  };
}
