import { randomBytes } from "node:crypto";
import { type LoadRequest, runLoad } from "./load.ts";
import { type ChildServer, readCpuSeconds } from "./proc.ts";
import { medians } from "./stats.ts";

export interface SharedLimitsCost {
  /** Medians per variant: api CPU per door open (ms) and req/s at c = 16, p50 (ms) at c = 1. */
  memory: VariantFigures;
  redis: VariantFigures;
  /** (redis − memory) / memory of the CPU per open, percent. */
  overheadPercent: number;
  opens: number;
}

interface VariantFigures {
  cpuMs: number;
  rps: number;
  p50c1: number;
}

type Variant = "memory" | "redis";

/**
 * What production's shared counts cost a door open: two fresh api children on the same
 * database, one counting its rate limits and anomaly rules in memory (as the rest of the bench
 * does), one in Redis (`REDIS_URL`, as instances behind one load balancer must, under a key
 * prefix of this run's own). After a warm-up each, `reps` rounds, alternating which goes first:
 * a closed loop at c = 16 (each child's utime + stime per successful open, and its req/s), then
 * one at c = 1 (its p50).
 */
export async function measureSharedLimitsCost(options: {
  redisUrl: string;
  start(name: string, env: Record<string, string>): Promise<ChildServer>;
  request(tag: string): (n: number) => LoadRequest;
  reps: number;
  seconds: number;
  warmSeconds: number;
}): Promise<SharedLimitsCost> {
  const memory = await options.start("bench-limits-memory", {});
  const redis = await options.start("bench-limits-redis", {
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: `propgate-bench-${randomBytes(4).toString("hex")}:`,
  });
  try {
    const children: Record<Variant, ChildServer> = { memory, redis };
    let counter = 0;
    const run = async (which: Variant, connections: number, seconds: number) => {
      const child = children[which];
      const before = readCpuSeconds(child.pid);
      const load = await runLoad({
        origin: child.url,
        connections,
        seconds,
        request: options.request(`limits-${which}-${counter++}`),
      });
      const after = readCpuSeconds(child.pid);
      if (before === null || after === null) throw new Error(`api child ${which} has gone`);
      if (load.non2xx + load.errors > 0)
        throw new Error(`api child ${which}: ${load.non2xx} non-2xx, ${load.errors} errors`);
      return { cpuMs: ((after - before) * 1000) / Math.max(1, load.ok), load };
    };
    const variants: Variant[] = ["memory", "redis"];
    for (const which of variants) await run(which, 16, options.warmSeconds);
    const seen: Record<Variant, { cpuMs: number[]; rps: number[]; p50c1: number[] }> = {
      memory: { cpuMs: [], rps: [], p50c1: [] },
      redis: { cpuMs: [], rps: [], p50c1: [] },
    };
    let opens = 0;
    for (let rep = 0; rep < options.reps; rep++) {
      for (const which of rep % 2 === 0 ? variants : [...variants].reverse()) {
        const loaded = await run(which, 16, options.seconds);
        seen[which].cpuMs.push(loaded.cpuMs);
        seen[which].rps.push(loaded.load.rps);
        const single = await run(which, 1, options.seconds);
        seen[which].p50c1.push(single.load.p50);
        opens += loaded.load.ok + single.load.ok;
      }
    }
    const inMemory = medians(seen.memory);
    const inRedis = medians(seen.redis);
    return {
      memory: inMemory,
      redis: inRedis,
      overheadPercent: ((inRedis.cpuMs - inMemory.cpuMs) / inMemory.cpuMs) * 100,
      opens,
    };
  } finally {
    await memory.stop();
    await redis.stop();
  }
}
