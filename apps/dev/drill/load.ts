/**
 * A steady load of door opens: `ratePerSecond` requests, spread over the residents, each with
 * a fresh idempotency key, never more than `maxOutstanding` at once (a request that would pass
 * it is counted as `skipped`). Every answer is kept: when it started and ended, its status and
 * the tRPC cause (`PARTNER_UNAVAILABLE`…), or `network` when no answer came.
 */
export interface Sample {
  start: number;
  end: number;
  status: number;
  /** `ok`, a cause code, `network` (refused or reset), `http_<status>` without a cause. */
  outcome: string;
  /** The answer's `Retry-After`, when it had one. */
  retryAfter: string | null;
}

export interface Load {
  samples: Sample[];
  /** The most requests that were outstanding at once. */
  readonly maxOutstanding: number;
  readonly skipped: number;
  stop(): Promise<Sample[]>;
}

export function startLoad(
  apiUrl: string,
  tokens: string[],
  options: { ratePerSecond?: number; maxOutstanding?: number; deviceId?: string } = {},
): Load {
  const rate = options.ratePerSecond ?? 40;
  const cap = options.maxOutstanding ?? 200;
  const samples: Sample[] = [];
  const pending = new Set<Promise<void>>();
  let maxOutstanding = 0;
  let skipped = 0;
  let n = 0;
  let stopped = false;
  const started = performance.now();

  async function one(token: string, key: string) {
    const start = performance.now();
    let status = 0;
    let outcome = "network";
    let retryAfter: string | null = null;
    try {
      const answer = await fetch(`${apiUrl}/trpc/intercom.openDoor`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ deviceId: options.deviceId ?? "door-a1", idempotencyKey: key }),
      });
      status = answer.status;
      retryAfter = answer.headers.get("retry-after");
      const body = (await answer.json().catch(() => null)) as {
        error?: { data?: { cause?: { code?: string } } };
      } | null;
      outcome = answer.ok ? "ok" : (body?.error?.data?.cause?.code ?? `http_${status}`);
    } catch {
      outcome = "network";
    }
    samples.push({ start, end: performance.now(), status, outcome, retryAfter });
  }

  // A tick every 5 ms sends what the schedule owes, so the rate holds without a timer per request.
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    while (!stopped && n < due) {
      n += 1;
      if (pending.size >= cap) {
        skipped += 1;
        continue;
      }
      const token = tokens[n % tokens.length] ?? "";
      const request = one(token, `drill-${started.toFixed(0)}-${n}`).finally(() =>
        pending.delete(request),
      );
      pending.add(request);
      maxOutstanding = Math.max(maxOutstanding, pending.size);
    }
  }, 5);

  return {
    samples,
    get maxOutstanding() {
      return maxOutstanding;
    },
    get skipped() {
      return skipped;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all(pending);
      return samples;
    },
  };
}

/** Latency percentile (ms) of the samples; 0 when there are none. */
export function percentile(samples: readonly Sample[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = samples.map((s) => s.end - s.start).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Outcome → count. */
export function outcomes(samples: readonly Sample[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sample of samples) counts[sample.outcome] = (counts[sample.outcome] ?? 0) + 1;
  return counts;
}
