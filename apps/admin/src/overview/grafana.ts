import { committedJson } from "@propgate/openapi";
import type { Message } from "../page/i18n/catalogue.ts";
import { en } from "../page/i18n/en.ts";
import type { MessageKey } from "../page/i18n/i18n.ts";
import { OVERVIEW_PANELS, OVERVIEW_UNITS } from "./panels.ts";

/**
 * The operations overview as a Grafana dashboard, made from the same panel list as the admin
 * page (`panels.ts`): titles and legends in English from the page's reference catalogue, the
 * PromQL as written there (Grafana fills `$__rate_interval` itself). `bun run grafana` writes it
 * to infra/grafana/propgate-overview.json; a test fails when the committed file differs.
 */

function english(key: MessageKey): string {
  const message: Message = en[key];
  return typeof message === "string" ? message : message.other;
}

/** A legend message's `{label}` as Grafana's `{{label}}`. */
export function legendFormat(key: MessageKey): string {
  return english(key).replace(/\{(\w+)\}/g, "{{$1}}");
}

/** The dashboard's `datasource` variable, as Grafana writes a reference to it. */
const DATASOURCE = { type: "prometheus", uid: `$${"{datasource}"}` } as const;
const REF_IDS = "ABCDEFGHIJ";

export function grafanaDashboard() {
  return {
    uid: "propgate-overview",
    title: english("overview.heading"),
    description: english("overview.intro"),
    tags: ["propgate"],
    timezone: "browser",
    editable: true,
    schemaVersion: 39,
    version: 1,
    refresh: "1m",
    time: { from: "now-1h", to: "now" },
    timepicker: { refresh_intervals: ["30s", "1m", "5m", "15m"] },
    templating: {
      list: [
        {
          name: "datasource",
          label: "Prometheus",
          type: "datasource",
          query: "prometheus",
          current: {},
          hide: 0,
        },
      ],
    },
    annotations: { list: [] },
    panels: OVERVIEW_PANELS.map((panel, index) => ({
      id: index + 1,
      type: "timeseries",
      title: english(panel.title),
      datasource: DATASOURCE,
      gridPos: { h: 8, w: 12, x: (index % 2) * 12, y: Math.floor(index / 2) * 8 },
      fieldConfig: {
        defaults: {
          unit: OVERVIEW_UNITS[panel.unit],
          min: 0,
          ...(panel.unit === "ratio" ? { max: 1 } : {}),
          custom: { drawStyle: "line", lineWidth: 1, fillOpacity: 10, spanNulls: false },
        },
        overrides: [],
      },
      options: {
        legend: { displayMode: "list", placement: "bottom", showLegend: true },
        tooltip: { mode: "multi", sort: "desc" },
      },
      targets: panel.queries.map((query, position) => ({
        refId: REF_IDS[position],
        datasource: DATASOURCE,
        expr: query.expr,
        legendFormat: legendFormat(query.legend),
        range: true,
      })),
    })),
  };
}

/** The committed file's text, laid out as biome formats JSON (so `biome check` passes it). */
export function grafanaDashboardJson(): string {
  return committedJson(grafanaDashboard());
}
