import { z } from "zod";
import { OVERVIEW_RANGES, type OverviewPanel, type OverviewRange, promql } from "./panels.ts";

/**
 * The overview's one reader of Prometheus's HTTP API (`/api/v1/query_range`), called by the
 * admin server, never the browser: bounded in time, answer size and series, and read
 * tolerantly (only the fields drawn are checked).
 */

/** One drawn line: its query (by position in the panel), its labels, [unix seconds, value]. */
export interface OverviewSeries {
  query: number;
  labels: Record<string, string>;
  /** Null where Prometheus has no sample (a gap, or NaN from a quantile of nothing). */
  points: [number, number | null][];
}

export interface PanelSeries {
  panel: string;
  range: OverviewRange;
  start: number;
  end: number;
  stepSeconds: number;
  series: OverviewSeries[];
  /** True when a query had more series than are drawn (`MAX_SERIES`). */
  truncated: boolean;
}

/** Why Prometheus gave no series: down, slow, refusing the query, or an answer we cannot read. */
export class PrometheusError extends Error {
  constructor(
    readonly reason: "unreachable" | "timeout" | "refused" | "unreadable",
    message: string,
  ) {
    super(message);
  }
}

export interface PrometheusOptions {
  url: URL;
  fetch?: typeof fetch;
  timeoutMs?: number;
  now?: () => number;
}

const TIMEOUT_MS = 5000;
/** A query's answer larger than this is refused unread (241 points × 20 series is ~100 KB). */
const MAX_ANSWER_BYTES = 2 * 1024 * 1024;
/** The lines one query draws at most; more is unreadable on a chart anyway. */
export const MAX_SERIES = 20;

const matrix = z.object({
  status: z.literal("success"),
  data: z.object({
    resultType: z.literal("matrix"),
    result: z.array(
      z.object({
        metric: z.record(z.string(), z.string()),
        values: z.array(z.tuple([z.number(), z.string()])),
      }),
    ),
  }),
});
const failure = z.object({ error: z.string().max(2000) });

/** The answer's body, refused past `limit` bytes without reading further. */
async function boundedText(response: Response, limit: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > limit) throw new PrometheusError("unreadable", "the answer is too large");
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new PrometheusError("unreadable", "the answer is too large");
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** One `query_range` call: its matrix, or a `PrometheusError`. */
async function queryRange(
  options: PrometheusOptions,
  query: string,
  start: number,
  end: number,
  step: number,
  signal: AbortSignal,
) {
  const target = new URL(
    "api/v1/query_range",
    options.url.href.endsWith("/") ? options.url : `${options.url.href}/`,
  );
  const body = new URLSearchParams({
    query,
    start: String(start),
    end: String(end),
    step: String(step),
    timeout: `${Math.ceil((options.timeoutMs ?? TIMEOUT_MS) / 1000)}s`,
  });
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(target, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
      redirect: "manual",
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw new PrometheusError("timeout", "Prometheus did not answer in time");
    throw new PrometheusError(
      "unreachable",
      `Prometheus could not be reached (${error instanceof Error ? error.name : "error"})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(await boundedText(response, MAX_ANSWER_BYTES));
  } catch (error) {
    if (error instanceof PrometheusError) throw error;
    if (signal.aborted) throw new PrometheusError("timeout", "Prometheus did not answer in time");
    throw new PrometheusError(
      "unreadable",
      `Prometheus answered HTTP ${response.status}, not JSON`,
    );
  }
  const parsed = matrix.safeParse(json);
  if (parsed.success) return parsed.data.data.result;
  const refused = failure.safeParse(json);
  if (refused.success)
    throw new PrometheusError("refused", `Prometheus refused the query: ${refused.data.error}`);
  throw new PrometheusError(
    "unreadable",
    `Prometheus answered HTTP ${response.status}, not a matrix`,
  );
}

/** A sample's value: a finite number, else null (Prometheus writes NaN and ±Inf as strings). */
function sampleValue(text: string): number | null {
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/**
 * A panel's series over the last hour or day up to now (Prometheus answers at `start` + k ×
 * step), its queries sent side by side under one deadline.
 */
export async function panelSeries(
  options: PrometheusOptions,
  panel: OverviewPanel,
  range: OverviewRange,
): Promise<PanelSeries> {
  const { seconds, stepSeconds } = OVERVIEW_RANGES[range];
  const end = Math.floor((options.now ?? Date.now)() / 1000);
  const start = end - seconds;
  const signal = AbortSignal.timeout(options.timeoutMs ?? TIMEOUT_MS);
  let truncated = false;
  const results = await Promise.all(
    panel.queries.map((query) =>
      queryRange(options, promql(query.expr, stepSeconds), start, end, stepSeconds, signal),
    ),
  );
  const series = results.flatMap((result, query) => {
    if (result.length > MAX_SERIES) truncated = true;
    return result.slice(0, MAX_SERIES).map(
      (line): OverviewSeries => ({
        query,
        labels: line.metric,
        points: line.values.map(([time, value]) => [time, sampleValue(value)]),
      }),
    );
  });
  return { panel: panel.id, range, start, end, stepSeconds, series, truncated };
}
