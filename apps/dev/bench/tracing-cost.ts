import { startOtlpReceiver } from "../src/testing/otlp-receiver.ts";
import { type LoadRequest, runLoad } from "./load.ts";
import { type ChildServer, readCpuSeconds } from "./proc.ts";
import { median } from "./stats.ts";

export interface TracingCost {
  /**
   * Median api CPU per door open, ms: tracing off; on with every trace sampled out (spans and
   * context, nothing recorded or sent); on (sampler 1.0, exported).
   */
  offMs: number;
  unsampledMs: number;
  onMs: number;
  /** (on − off) / off, percent. */
  overheadPercent: number;
  /** Each run's CPU per open, ms, in run order. */
  runs: Record<Variant, number[]>;
  /** Spans the receiver decoded per traced door open (the trace was really made and sent). */
  spansPerOpen: number;
  opens: Record<Variant, number>;
}

type Variant = "off" | "unsampled" | "on";

/**
 * Issue 29's cost of traces: two fresh api children on the same database, one without `OTEL_*`
 * (tracing off) and one with `OTEL_TRACES_SAMPLER=always_on` exporting to an OTLP/HTTP receiver
 * in the bench process; after a warm-up each, `reps` closed-loop runs at c = 16 per child,
 * alternating which goes first, each child's utime + stime over its run per successful open.
 */
export async function measureTracingCost(options: {
  start(name: string, env: Record<string, string>): Promise<ChildServer>;
  request(tag: string): (n: number) => LoadRequest;
  reps: number;
  seconds: number;
  warmSeconds: number;
}): Promise<TracingCost> {
  const receiver = startOtlpReceiver();
  const off = await options.start("bench-trace-off", {});
  const traced = (sampler: string) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_TRACES_SAMPLER: sampler,
    OTEL_SERVICE_NAME: "propgate-bench",
  });
  const unsampled = await options.start("bench-trace-unsampled", traced("always_off"));
  const on = await options.start("bench-trace-on", traced("always_on"));
  try {
    const children: Record<Variant, ChildServer> = { off, unsampled, on };
    let counter = 0;
    const run = async (which: Variant, seconds: number) => {
      const child = children[which];
      const before = readCpuSeconds(child.pid);
      const load = await runLoad({
        origin: child.url,
        connections: 16,
        seconds,
        request: options.request(`trace-${which}-${counter++}`),
      });
      const after = readCpuSeconds(child.pid);
      if (before === null || after === null) throw new Error(`api child ${which} has gone`);
      return { cpuSeconds: after - before, ok: load.ok };
    };
    const variants: Variant[] = ["off", "unsampled", "on"];
    for (const which of variants) await run(which, options.warmSeconds);
    const runs: Record<Variant, number[]> = { off: [], unsampled: [], on: [] };
    const opens: Record<Variant, number> = { off: 0, unsampled: 0, on: 0 };
    const spansBefore = receiver.spans.length;
    for (let rep = 0; rep < options.reps; rep++) {
      // Alternate the order, so drift over the runs hits all alike.
      for (const which of rep % 2 === 0 ? variants : [...variants].reverse()) {
        const { cpuSeconds, ok } = await run(which, options.seconds);
        runs[which].push((cpuSeconds * 1000) / Math.max(1, ok));
        opens[which] += ok;
      }
    }
    await on.stop(); // SIGTERM: the child flushes its last spans before it exits
    const offMs = median(runs.off);
    const onMs = median(runs.on);
    return {
      offMs,
      unsampledMs: median(runs.unsampled),
      onMs,
      overheadPercent: ((onMs - offMs) / offMs) * 100,
      runs,
      spansPerOpen: (receiver.spans.length - spansBefore) / Math.max(1, opens.on),
      opens,
    };
  } finally {
    await off.stop();
    await unsampled.stop();
    await on.stop();
    await receiver.stop();
  }
}
