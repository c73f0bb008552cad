import type { MessageKey } from "../page/i18n/i18n.ts";

/**
 * The operations overview's panels, written once: the admin page draws them from Prometheus
 * (through this app's `/overview/series`), and `bun run grafana` writes the same panels as a
 * Grafana dashboard (infra/grafana/propgate-overview.json). Every metric named here is one the
 * apps export (apps/admin/test/overview.test.ts).
 */

/** How a panel's values read: Grafana's unit beside it (`opm` is operations per minute). */
export const OVERVIEW_UNITS = {
  perMinute: "opm",
  seconds: "s",
  ratio: "percentunit",
  count: "short",
} as const;
export type OverviewUnit = keyof typeof OVERVIEW_UNITS;

export interface OverviewQuery {
  /**
   * PromQL. `$__rate_interval` is Grafana's own variable; the admin server puts the window of its
   * step in its place (`rangeWindowSeconds`), so both read the same text.
   */
  expr: string;
  /**
   * A series' name: a message whose `{parameters}` are the series' labels (`{partner}`); in
   * Grafana its English text with `{{label}}`.
   */
  legend: MessageKey;
}

export interface OverviewPanel {
  /** Stable: the page's `data-panel`, the route's `panel`, the Grafana panel's position. */
  id: string;
  title: MessageKey;
  unit: OverviewUnit;
  queries: readonly OverviewQuery[];
}

const LATENCY = (quantile: number) =>
  `histogram_quantile(${quantile}, sum by (partner, le) (rate(propgate_partner_request_duration_seconds_bucket[$__rate_interval])))`;

export const OVERVIEW_PANELS = [
  {
    id: "opens",
    title: "overview.panel.opens",
    unit: "perMinute",
    queries: [
      {
        // Each attempt sent to the partner, by how it ended (a retried open counts twice).
        expr: 'sum by (operation, outcome) (rate(propgate_partner_requests_total{operation=~"(intercom|barrier)[.]open"}[$__rate_interval])) * 60',
        legend: "overview.legend.opens",
      },
    ],
  },
  {
    id: "refusals",
    title: "overview.panel.refusals",
    unit: "perMinute",
    queries: [
      {
        // `reason` is the refusal's cause.code in lower case (FORBIDDEN_DEVICE: forbidden_device).
        expr: "sum by (reason) (rate(propgate_access_denied_total[$__rate_interval])) * 60",
        legend: "overview.legend.refusals",
      },
      {
        // Rate limits refuse as RATE_LIMITED whichever limit it was: one line of that reason.
        expr: 'label_replace(sum(rate(propgate_rate_limited_total[$__rate_interval])) * 60, "reason", "rate_limited", "", "")',
        legend: "overview.legend.refusals",
      },
    ],
  },
  {
    id: "latency",
    title: "overview.panel.latency",
    unit: "seconds",
    queries: [
      { expr: LATENCY(0.5), legend: "overview.legend.p50" },
      { expr: LATENCY(0.95), legend: "overview.legend.p95" },
    ],
  },
  {
    id: "availability",
    title: "overview.panel.availability",
    unit: "ratio",
    queries: [
      {
        expr: "avg by (partner, check) (avg_over_time(propgate_probe_success[$__rate_interval]))",
        legend: "overview.legend.availability",
      },
    ],
  },
  {
    id: "blocks",
    title: "overview.panel.blocks",
    unit: "perMinute",
    queries: [
      {
        expr: "sum by (subject_type, kind) (rate(propgate_blocks_placed_total[$__rate_interval])) * 60",
        legend: "overview.legend.blocks",
      },
    ],
  },
  {
    id: "queues",
    title: "overview.panel.queues",
    unit: "count",
    queries: [
      // Every api instance counts the same table: the largest is the queue's depth.
      { expr: "max(propgate_erasures_pending)", legend: "overview.legend.erasuresPending" },
      { expr: "max(propgate_video_sessions_ending)", legend: "overview.legend.videoEnding" },
    ],
  },
] as const satisfies readonly OverviewPanel[];

export type OverviewPanelId = (typeof OVERVIEW_PANELS)[number]["id"];
export const OVERVIEW_PANEL_IDS = OVERVIEW_PANELS.map((panel) => panel.id) as [
  OverviewPanelId,
  ...OverviewPanelId[],
];

/**
 * The periods the overview shows, each with the step of its points: at most 241 per series
 * (an hour by 15 s, a day by 6 min), whatever Prometheus holds.
 */
export const OVERVIEW_RANGES = {
  hour: { seconds: 3600, stepSeconds: 15 },
  day: { seconds: 86_400, stepSeconds: 360 },
} as const;
export type OverviewRange = keyof typeof OVERVIEW_RANGES;
export const OVERVIEW_RANGE_NAMES = Object.keys(OVERVIEW_RANGES) as [
  OverviewRange,
  ...OverviewRange[],
];

/**
 * The window of `rate()` at a step: two steps, at least two minutes, so a counter scraped every
 * 15 to 30 s has several samples in each (Grafana's `$__rate_interval` is of the same kind).
 */
export function rangeWindowSeconds(stepSeconds: number): number {
  return Math.max(2 * stepSeconds, 120);
}

/** A query's PromQL as sent to Prometheus for a step. */
export function promql(expr: string, stepSeconds: number): string {
  return expr.replaceAll("$__rate_interval", `${rangeWindowSeconds(stepSeconds)}s`);
}

export function overviewPanel(id: string): OverviewPanel | undefined {
  return OVERVIEW_PANELS.find((panel) => panel.id === id);
}
