import autocannon from "autocannon";
import { percentile } from "./stats.ts";

export interface LoadRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface LoadSpec {
  /** Origin, e.g. `http://127.0.0.1:4010`. */
  origin: string;
  connections: number;
  seconds: number;
  /** Paced: autocannon's `overallRate` (req/s over all connections). */
  overallRate?: number;
  /** Request number n (unique per run), so each one gets its own idempotency key. */
  request(n: number): LoadRequest;
}

export interface LoadResult {
  connections: number;
  overallRate: number | null;
  seconds: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** 2xx responses per second. */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * One autocannon run. Latencies are autocannon's own per-response times (the `response` event,
 * fractional ms): its histogram keeps whole milliseconds, too coarse for a 1 ms goal.
 */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  let n = 0;
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.origin,
        connections: spec.connections,
        duration: spec.seconds,
        overallRate: spec.overallRate,
        timeout: 10,
        requests: [
          {
            method: "POST",
            setupRequest: (request) => {
              const next = spec.request(n++);
              return { ...request, path: next.path, headers: next.headers, body: next.body };
            },
          },
        ],
      },
      (error: unknown, result) => {
        if (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        resolve({
          connections: spec.connections,
          overallRate: spec.overallRate ?? null,
          seconds: result.duration,
          ok: result["2xx"],
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          rps: result["2xx"] / result.duration,
          p50: percentile(latencies, 50),
          p90: percentile(latencies, 90),
          p99: percentile(latencies, 99),
          max: percentile(latencies, 100),
        });
      },
    );
    instance.on("response", (_client, status, _bytes, responseTime) => {
      if (status >= 200 && status < 300) latencies.push(responseTime);
    });
  });
}
