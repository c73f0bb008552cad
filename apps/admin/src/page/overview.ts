import uPlot from "uplot";
import {
  OVERVIEW_PANELS,
  OVERVIEW_RANGE_NAMES,
  type OverviewPanel,
  type OverviewRange,
  type OverviewUnit,
} from "../overview/panels.ts";
import type { PanelSeries } from "../overview/prometheus.ts";
import { AppRouteError, getAppJson } from "./api.ts";
import { byId, type Child, explained, h, pick } from "./elements.ts";
import { locale, type MessageKey, t } from "./i18n/i18n.ts";
import { createPanel } from "./panel.ts";
import { checkName } from "./partners.ts";
import { navigate, type Screen } from "./router.ts";
import { formatTime, TIME_ZONE } from "./time.ts";

/**
 * The operations overview: the panels of `overview/panels.ts` over the last hour or day, each
 * read by this app's server from Prometheus (`/overview/series`) and drawn with uPlot on a
 * canvas by this bundled script (no inline script or style: the CSP holds). Each chart writes
 * `data-state`, `data-series` and `data-points` for whoever checks what was drawn.
 */

const REFRESH_MS = 30_000;
const CHART_HEIGHT = 220;
/** Fewer samples than this in a series: each is drawn as a dot too. */
const SPARSE = 60;
/** A count's axis in whole numbers (a queue of 0.5 items means nothing). */
const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 100_000];
/** Distinguishable on white and for the common colour blindnesses (Okabe-Ito). */
const COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"];

type Answer = { configured: false } | ({ configured: true } & PanelSeries);

function isAnswer(value: unknown): value is Answer {
  return typeof value === "object" && value !== null && "configured" in value;
}

/** A series label's value as the rest of the page shows codes: as stored, explained beside. */
function labelValue(name: string, value: string | undefined): Child {
  if (value === undefined || value === "") return "—";
  switch (name) {
    case "operation":
      return explained("operation", value);
    case "reason":
      return explained("cause", value.toUpperCase()); // the metric's label is the code in lower case
    case "partner":
      return explained("partner", value);
    case "subject_type":
      return explained("subject", value);
    case "kind":
      return explained("anomaly", value);
    case "check":
      return checkName(value);
    default:
      return h("code", { translate: "no" }, value);
  }
}

/** A legend message with each `{label}` filled by that label's value (as nodes, not text). */
function legend(key: MessageKey, labels: Record<string, string>): Child[] {
  return t(key)
    .split(/(\{\w+\})/)
    .filter((part) => part !== "")
    .map((part) => {
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      return name ? labelValue(name, labels[name]) : part;
    });
}

function numberFormat(digits: number) {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: digits });
}

/** How a value of the panel's unit reads, on its axis. */
function formatter(unit: OverviewUnit): (value: number) => string {
  switch (unit) {
    case "perMinute": {
      const number = numberFormat(2);
      return (value) => t("overview.unit.perMinute", { value: number.format(value) });
    }
    case "seconds": {
      const number = numberFormat(1);
      return (value) => t("overview.unit.ms", { value: number.format(value * 1000) });
    }
    case "ratio": {
      const percent = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 });
      return (value) => percent.format(value);
    }
    case "count": {
      const number = numberFormat(0);
      return (value) => number.format(value);
    }
  }
}

const CLOCK = new Intl.DateTimeFormat(locale, {
  hour: "2-digit",
  minute: "2-digit",
  timeZone: TIME_ZONE,
});

/** The answer as uPlot's columns: every step of the period, a gap where a series has no sample. */
function columns(answer: PanelSeries): uPlot.AlignedData {
  const times: number[] = [];
  for (let time = answer.start; time <= answer.end; time += answer.stepSeconds) times.push(time);
  return [
    times,
    ...answer.series.map((series) => {
      const byTime = new Map(series.points);
      return times.map((time) => byTime.get(time) ?? null);
    }),
  ];
}

interface Chart {
  figure: HTMLElement;
  plot: uPlot | null;
  /** Where the plot goes, to size it to. */
  area: HTMLElement;
}

function emptyFigure(panel: OverviewPanel): Chart {
  const area = h("div", { class: "plot" });
  const figure = h(
    "figure",
    { class: "chart", "data-panel": panel.id, "data-state": "loading" },
    h("figcaption", {}, t(panel.title)),
    area,
  );
  return { figure, plot: null, area };
}

function note(chart: Chart, state: string, text: string) {
  chart.figure.dataset.state = state;
  chart.figure.dataset.series = "0";
  chart.figure.dataset.points = "0";
  chart.figure.append(h("p", { class: "hint chart-note" }, text));
}

function draw(chart: Chart, panel: OverviewPanel, answer: PanelSeries) {
  const data = columns(answer);
  const points = data
    .slice(1)
    .reduce((sum, column) => sum + [...column].filter((value) => value !== null).length, 0);
  if (answer.series.length === 0 || points === 0) {
    note(chart, "empty", t("overview.noData"));
    return;
  }
  const format = formatter(panel.unit);
  const colour = (index: number) => COLOURS[index % COLOURS.length] ?? "#000000";
  // Under the pointer: the time, and each line's value in its legend entry.
  const readings = answer.series.map(() => h("span", { class: "reading" }));
  const pointed = h("p", { class: "hint reading-time" });
  const showReadings = (plot: uPlot) => {
    const index = plot.cursor.idx;
    const time = index === null || index === undefined ? undefined : plot.data[0][index];
    pointed.textContent = time === undefined ? "" : formatTime(new Date(time * 1000).toISOString());
    readings.forEach((reading, line) => {
      const value = time === undefined ? undefined : plot.data[line + 1]?.[index ?? 0];
      reading.textContent =
        value === undefined ? "" : value === null ? " = —" : ` = ${format(value)}`;
    });
  };
  chart.plot = new uPlot(
    {
      width: Math.max(chart.area.clientWidth, 200),
      height: CHART_HEIGHT,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      hooks: { setCursor: [showReadings] },
      scales: {
        x: { time: true },
        y:
          panel.unit === "ratio"
            ? { range: [0, 1] }
            : { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { values: (_u, splits) => splits.map((time) => CLOCK.format(time * 1000)) },
        {
          values: (_u, splits) => splits.map(format),
          size: 80,
          ...(panel.unit === "count" ? { incrs: WHOLE_STEPS } : {}),
        },
      ],
      series: [
        {},
        ...answer.series.map((_series, index) => ({
          stroke: colour(index),
          width: 1.5,
          spanGaps: false,
          // A few samples (a new series, a sparse one) show as dots: a line needs two in a row.
          points: {
            show: (data[index + 1] ?? []).filter((v) => v !== null).length < SPARSE,
            size: 5,
          },
        })),
      ],
    },
    data,
    chart.area,
  );
  const lines = answer.series.map((series, index) => {
    const query = panel.queries[series.query];
    return h(
      "li",
      {},
      h("span", { class: `swatch swatch-${index % COLOURS.length}`, "aria-hidden": "true" }),
      ...(query ? legend(query.legend, series.labels) : []),
      readings[index],
    );
  });
  chart.figure.append(
    pointed,
    h(
      "ul",
      { class: "legend", "aria-label": t("overview.seriesOf", { title: t(panel.title) }) },
      ...lines,
    ),
  );
  if (answer.truncated)
    chart.figure.append(
      h("p", { class: "hint" }, t("overview.truncated", { count: answer.series.length })),
    );
  chart.figure.dataset.state = "drawn";
  chart.figure.dataset.series = String(answer.series.length);
  chart.figure.dataset.points = String(points);
}

export function createOverviewScreen(ready: Promise<unknown>): Screen {
  const section = byId("screen-overview", HTMLElement);
  const toolbar = byId("overview-toolbar", HTMLDivElement);
  const rangeSelect = byId("overview-range", HTMLSelectElement);
  const refresh = byId("overview-refresh", HTMLButtonElement);
  const updated = byId("overview-updated", HTMLParagraphElement);
  const unconfigured = byId("overview-unconfigured", HTMLParagraphElement);
  const unavailable = byId("overview-unavailable", HTMLDivElement);
  const grid = byId("overview-charts", HTMLDivElement);
  const panel = createPanel(section, () => ready);
  let range: OverviewRange = "hour";
  let charts: Chart[] = [];
  let timer: ReturnType<typeof setInterval> | undefined;

  function clear() {
    for (const chart of charts) chart.plot?.destroy();
    charts = [];
    grid.replaceChildren();
  }

  function showUnavailable(error: AppRouteError) {
    unavailable.replaceChildren(
      h("span", {}, t("overview.unavailable")),
      " ",
      h("strong", { class: "code", translate: "no" }, error.code),
      " · ",
      h("span", { class: "detail", lang: "en", translate: "no" }, error.message),
    );
    if (error.requestId)
      unavailable.append(
        h(
          "span",
          { class: "request-id" },
          ` · ${t("app.requestId")} `,
          h("code", { translate: "no" }, error.requestId),
        ),
      );
    unavailable.dataset.code = error.code;
    unavailable.hidden = false;
  }

  async function load() {
    const read = (id: string) =>
      getAppJson(`/overview/series?${new URLSearchParams({ panel: id, range })}`);
    const answers = await Promise.allSettled(OVERVIEW_PANELS.map((each) => read(each.id)));
    clear();
    unavailable.hidden = true;
    unavailable.replaceChildren();
    const notSetUp = answers.some(
      (answer) =>
        answer.status === "fulfilled" && isAnswer(answer.value) && !answer.value.configured,
    );
    unconfigured.hidden = !notSetUp;
    toolbar.hidden = notSetUp; // no period to choose: nothing is drawn
    section.dataset.overview = notSetUp ? "unconfigured" : "configured";
    if (notSetUp) return;
    let other: unknown = null;
    OVERVIEW_PANELS.forEach((each, index) => {
      const chart = emptyFigure(each);
      charts.push(chart);
      grid.append(chart.figure);
      const answer = answers[index];
      if (answer?.status === "fulfilled" && isAnswer(answer.value) && answer.value.configured) {
        draw(chart, each, answer.value);
        return;
      }
      note(chart, "failed", t("overview.failed"));
      const reason = answer?.status === "rejected" ? answer.reason : null;
      if (reason instanceof AppRouteError && reason.code === "PROMETHEUS_UNAVAILABLE")
        showUnavailable(reason);
      else other ??= reason ?? new Error(t("overview.failed"));
    });
    updated.textContent = t("overview.updated", {
      time: formatTime(new Date().toISOString()),
      seconds: REFRESH_MS / 1000,
    });
    if (other) throw other; // the session, a role: the screen's error box says which
  }
  const reload = async () => {
    await panel.run(t("overview.loading"), load);
  };

  rangeSelect.addEventListener("change", () => navigate("overview", { range: rangeSelect.value }));
  refresh.addEventListener("click", () => void reload());
  window.addEventListener("resize", () => {
    for (const chart of charts)
      chart.plot?.setSize({ width: Math.max(chart.area.clientWidth, 200), height: CHART_HEIGHT });
  });
  return {
    name: "overview",
    section,
    show(params) {
      range = pick(OVERVIEW_RANGE_NAMES, params.get("range") ?? "") ?? "hour";
      rangeSelect.value = range;
      void reload();
      clearInterval(timer);
      timer = setInterval(() => void reload(), REFRESH_MS);
    },
    hide() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
