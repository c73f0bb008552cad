import { type LoadRequest, runLoad } from "./load.ts";
import { backendCpuDelta, postgresBackendCpu, readCpuSeconds } from "./proc.ts";
import { medians } from "./stats.ts";

/** Medians per resident kind: api and PostgreSQL CPU per open (ms) and req/s at c = 16; p50 at c = 1. */
interface KindFigures {
  apiMs: number;
  dbMs: number;
  rps: number;
  p50c1: number;
}

export interface JournalCost {
  /** Residents who keep no journal (the rest of the bench's), and who keep one. */
  without: KindFigures;
  keeping: KindFigures;
  opens: number;
}

type Kind = "without" | "keeping";

/**
 * What a resident's journal costs their door open: the measured api child, opened for by
 * residents who keep no journal and by residents who keep one (`journal` consent: each open is
 * also journaled, committed before the answer), in alternating rounds: a closed loop at c = 16
 * (the child's utime + stime and the database's backends' per successful open, req/s), then one
 * at c = 1 (p50).
 */
export async function measureJournalCost(options: {
  origin: string;
  pid: number;
  database: string;
  request(kind: Kind, tag: string): (n: number) => LoadRequest;
  reps: number;
  seconds: number;
}): Promise<JournalCost> {
  let counter = 0;
  const run = async (kind: Kind, connections: number) => {
    const before = readCpuSeconds(options.pid);
    const dbBefore = postgresBackendCpu(options.database);
    const load = await runLoad({
      origin: options.origin,
      connections,
      seconds: options.seconds,
      request: options.request(kind, `journal-${kind}-${counter++}`),
    });
    const after = readCpuSeconds(options.pid);
    const db = backendCpuDelta(dbBefore, postgresBackendCpu(options.database));
    if (before === null || after === null) throw new Error("the api child has gone");
    if (load.non2xx + load.errors > 0)
      throw new Error(`journal cost (${kind}): ${load.non2xx} non-2xx, ${load.errors} errors`);
    const opens = Math.max(1, load.ok);
    return { apiMs: ((after - before) * 1000) / opens, dbMs: (db * 1000) / opens, load };
  };
  const seen: Record<Kind, Record<keyof KindFigures, number[]>> = {
    without: { apiMs: [], dbMs: [], rps: [], p50c1: [] },
    keeping: { apiMs: [], dbMs: [], rps: [], p50c1: [] },
  };
  const kinds: Kind[] = ["without", "keeping"];
  let opens = 0;
  for (let rep = 0; rep < options.reps; rep++) {
    for (const kind of rep % 2 === 0 ? kinds : [...kinds].reverse()) {
      const loaded = await run(kind, 16);
      seen[kind].apiMs.push(loaded.apiMs);
      seen[kind].dbMs.push(loaded.dbMs);
      seen[kind].rps.push(loaded.load.rps);
      const single = await run(kind, 1);
      seen[kind].p50c1.push(single.load.p50);
      opens += loaded.load.ok + single.load.ok;
    }
  }
  return { without: medians(seen.without), keeping: medians(seen.keeping), opens };
}
