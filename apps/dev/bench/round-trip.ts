import type { SQL } from "bun";

export interface RoundTrip {
  queries: number;
  /** Wall time per query, µs. */
  wallUs: number;
  /** CPU of this process per query (user + system), µs. */
  cpuUs: number;
}

/**
 * What one sequential round trip costs a Bun process on this machine: `select 1` queries one at
 * a time on one connection, so the event loop sleeps and wakes once per query. Most of the CPU
 * is that sleep and wake, not the query; on a VM it is dearer than on bare metal. It is the floor
 * under every awaited hop of a request at a low rate (the database, the partner, the client).
 * `sql`: the bench's own one-connection client, idle by then.
 */
export async function measureRoundTrip(sql: SQL, queries = 2000): Promise<RoundTrip> {
  for (let i = 0; i < 200; i++) await sql`select 1 as one`;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < queries; i++) await sql`select 1 as one`;
  const wallUs = ((performance.now() - started) * 1000) / queries;
  const cpu = process.cpuUsage(cpuBefore);
  return { queries, wallUs, cpuUs: (cpu.user + cpu.system) / queries };
}
