import type { SQL } from "bun";

/** PostgreSQL's own writing (`pg_stat_bgwriter`, PostgreSQL 15/16): checkpoints and who wrote. */
export interface ServerWrites {
  checkpointsTimed: number;
  checkpointsRequested: number;
  /** Buffers written by checkpoints, by the background writer, and by backends themselves. */
  buffersCheckpoint: number;
  buffersClean: number;
  buffersBackend: number;
}

export async function serverWrites(sql: SQL): Promise<ServerWrites> {
  const [row] =
    (await sql`select checkpoints_timed::int8 as timed, checkpoints_req::int8 as requested,
      buffers_checkpoint::int8 as checkpoint, buffers_clean::int8 as clean,
      buffers_backend::int8 as backend
    from pg_stat_bgwriter`) as Array<Record<string, string | number | bigint>>;
  const n = (value: string | number | bigint | undefined) => Number(value ?? Number.NaN);
  return {
    checkpointsTimed: n(row?.timed),
    checkpointsRequested: n(row?.requested),
    buffersCheckpoint: n(row?.checkpoint),
    buffersClean: n(row?.clean),
    buffersBackend: n(row?.backend),
  };
}

const FIELDS = [
  "checkpointsTimed",
  "checkpointsRequested",
  "buffersCheckpoint",
  "buffersClean",
  "buffersBackend",
] as const;

/** Field by field: `combine(a, b)` of each count. */
function fieldwise(
  a: ServerWrites,
  b: ServerWrites,
  combine: (x: number, y: number) => number,
): ServerWrites {
  return Object.fromEntries(
    FIELDS.map((field) => [field, combine(a[field], b[field])]),
  ) as unknown as ServerWrites;
}

export const writesSince = (before: ServerWrites, after: ServerWrites) =>
  fieldwise(after, before, (x, y) => x - y);

export const addWrites = (a: ServerWrites, b: ServerWrites) => fieldwise(a, b, (x, y) => x + y);

export const noWrites = (): ServerWrites =>
  Object.fromEntries(FIELDS.map((field) => [field, 0])) as unknown as ServerWrites;

/** "1 checkpoint (0 requested), 8 kB pages written: 1200 by it, 0 by the writer, 30 by backends". */
export function writesText(writes: ServerWrites | null): string {
  if (!writes) return "(not measured)";
  const checkpoints = writes.checkpointsTimed + writes.checkpointsRequested;
  return (
    `${checkpoints} checkpoint${checkpoints === 1 ? "" : "s"} (${writes.checkpointsRequested} requested), ` +
    `8 kB pages written: ${writes.buffersCheckpoint} by checkpoints, ${writes.buffersClean} by the background writer, ${writes.buffersBackend} by backends`
  );
}
