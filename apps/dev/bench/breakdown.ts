import type { LoadRequest } from "./load.ts";
import { percentile } from "./stats.ts";

/** Where requests go and what request n is, as the bench's load targets say. */
export interface BreakdownTarget {
  origin: string;
  request(n: number): LoadRequest;
}

export interface SpanFigures {
  p50: number;
  p90: number;
}

export interface Breakdown {
  requests: number;
  /** Rounds sent first and not counted. */
  warmup: number;
  gapMs: number;
  /** The client's wall time per request: direct to the partner, and through Propgate. */
  direct: SpanFigures;
  propgate: SpanFigures;
  /**
   * `GET /healthz` of the same api at the same pace: one loopback hop to an idle process and
   * back, with no work behind it — the floor under every hop a door open makes.
   */
  hop: SpanFigures;
  /** Propgate's own `Server-Timing` spans (`gateway`, `audit`, `partner`, `total`), ms. */
  spans: Record<string, SpanFigures>;
}

/** The spans of a `Server-Timing` value by name, in ms. */
export function serverTimingSpans(value: string | null): Record<string, number> {
  const spans: Record<string, number> = {};
  for (const item of (value ?? "").split(",")) {
    const [name, ...params] = item.trim().split(";");
    const dur = params.find((param) => param.trim().startsWith("dur="));
    if (name && dur) spans[name] = Number(dur.trim().slice(4));
  }
  return spans;
}

const figures = (values: number[]): SpanFigures => ({
  p50: percentile(values, 50),
  p90: percentile(values, 90),
});

/**
 * Where one door open's time goes at a low rate: `requests` rounds sent one at a time, `gapMs`
 * apart (the processes idle between them, as at 100 opens/s), each round a request straight
 * to the partner, the same open through Propgate, whose `Server-Timing` splits its time into
 * the partner's part, the audit commit and its own, and a `GET /healthz` of the api (one hop).
 * Throws when an answer is not 200 or Propgate sends no `Server-Timing` (it serves one outside
 * production).
 */
export async function measureBreakdown(
  direct: BreakdownTarget,
  propgate: BreakdownTarget,
  options: { requests: number; gapMs: number; warmup?: number },
): Promise<Breakdown> {
  const directMs: number[] = [];
  const hopMs: number[] = [];
  const propgateMs: number[] = [];
  const spans: Record<string, number[]> = {};
  const warmup = options.warmup ?? 50;
  const health: BreakdownTarget = {
    origin: propgate.origin,
    request: () => ({ path: "/healthz", headers: {}, body: "" }),
  };
  const timed = async (target: BreakdownTarget, n: number) => {
    const { path, headers, body } = target.request(n);
    const started = performance.now();
    const answer = await fetch(
      `${target.origin}${path}`,
      body ? { method: "POST", headers, body } : { headers },
    );
    await answer.arrayBuffer();
    const ms = performance.now() - started;
    if (answer.status !== 200) throw new Error(`breakdown: ${path} answered ${answer.status}`);
    return { ms, answer };
  };
  for (let n = 0; n < warmup + options.requests; n++) {
    const viaPartner = await timed(direct, n);
    await Bun.sleep(options.gapMs);
    const viaPropgate = await timed(propgate, n);
    await Bun.sleep(options.gapMs);
    const viaHop = await timed(health, n);
    const timing = viaPropgate.answer.headers.get("server-timing");
    if (!timing)
      throw new Error("breakdown: Propgate sent no Server-Timing (PROPGATE_ENV production?)");
    if (n >= warmup) {
      directMs.push(viaPartner.ms);
      propgateMs.push(viaPropgate.ms);
      hopMs.push(viaHop.ms);
      for (const [name, ms] of Object.entries(serverTimingSpans(timing))) {
        spans[name] ??= [];
        spans[name].push(ms);
      }
    }
    await Bun.sleep(options.gapMs);
  }
  return {
    requests: options.requests,
    warmup,
    gapMs: options.gapMs,
    direct: figures(directMs),
    propgate: figures(propgateMs),
    hop: figures(hopMs),
    spans: Object.fromEntries(Object.entries(spans).map(([name, ms]) => [name, figures(ms)])),
  };
}

/** `gateway 1.20 / audit 0.41 / …` at p50, for the report. */
export function breakdownLine(breakdown: Breakdown): string {
  return Object.entries(breakdown.spans)
    .map(([name, span]) => `${name} ${span.p50.toFixed(2)}`)
    .join(" / ");
}
