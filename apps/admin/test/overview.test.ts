import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { createMetrics } from "@propgate/observability";
import { type AdminApp, createAdminApp } from "../src/app.ts";
import {
  type grafanaDashboard,
  grafanaDashboardJson,
  legendFormat,
} from "../src/overview/grafana.ts";
import {
  OVERVIEW_PANELS,
  OVERVIEW_RANGES,
  type OverviewPanel,
  promql,
} from "../src/overview/panels.ts";
import { MAX_SERIES, PrometheusError, panelSeries } from "../src/overview/prometheus.ts";
import { en } from "../src/page/i18n/en.ts";

/**
 * The operations overview: its one panel list (real metric names, legends the queries can fill),
 * the Grafana dashboard made from it (committed, fresh, the same PromQL), and the admin server's
 * `/overview/series` against a small Prometheus stand-in on 127.0.0.1:0 — sessions and roles,
 * bad input, not set up, and Prometheus down, refusing, slow or answering too much.
 * The real Prometheus scraping a stack, drawn in Chromium: apps/dev/test/admin-overview.browser.test.ts.
 */

const DASHBOARD_FILE = join(import.meta.dir, "../../../infra/grafana/propgate-overview.json");
const allQueries = (panels: readonly OverviewPanel[]) => panels.flatMap((panel) => panel.queries);

describe("the panel list", () => {
  test("every metric a panel's PromQL names is one the apps export", async () => {
    const exported = new Set(
      (await createMetrics({ app: "api" }).registry.getMetricsAsJSON()).map(
        (metric) => metric.name,
      ),
    );
    const used = new Set(
      allQueries(OVERVIEW_PANELS).flatMap((query) => query.expr.match(/propgate_[a-z_]+/g) ?? []),
    );
    expect(used.size).toBeGreaterThanOrEqual(8);
    // A histogram is exported by its name; its series are `_bucket`, `_sum`, `_count`.
    for (const name of used) {
      const base = name.replace(/_(bucket|sum|count)$/, "");
      expect({ name, exported: exported.has(name) || exported.has(base) }).toEqual({
        name,
        exported: true,
      });
    }
  });

  test("ids are unique; every legend names only labels its query keeps", () => {
    const ids = OVERVIEW_PANELS.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(["opens", "refusals", "latency", "availability", "blocks", "queues"]);
    for (const query of allQueries(OVERVIEW_PANELS)) {
      const kept = new Set([
        ...[...query.expr.matchAll(/by \(([^)]*)\)/g)].flatMap((m) =>
          (m[1] ?? "").split(",").map((label) => label.trim()),
        ),
        ...[...query.expr.matchAll(/label_replace\([^"]*"(\w+)"/g)].map((m) => m[1] ?? ""),
      ]);
      const message = en[query.legend];
      const params = [
        ...(typeof message === "string" ? message : message.other).matchAll(/\{(\w+)\}/g),
      ].map((m) => m[1] ?? "");
      expect({ legend: query.legend, missing: params.filter((name) => !kept.has(name)) }).toEqual({
        legend: query.legend,
        missing: [],
      });
    }
  });

  test("the admin server's PromQL is the panel's with the window of its step", () => {
    const expr = "sum(rate(propgate_access_denied_total[$__rate_interval]))";
    expect(promql(expr, OVERVIEW_RANGES.hour.stepSeconds)).toBe(
      "sum(rate(propgate_access_denied_total[120s]))",
    );
    expect(promql(expr, OVERVIEW_RANGES.day.stepSeconds)).toBe(
      "sum(rate(propgate_access_denied_total[720s]))",
    );
    for (const { seconds, stepSeconds } of Object.values(OVERVIEW_RANGES))
      expect(seconds / stepSeconds).toBeLessThanOrEqual(240);
  });
});

describe("the Grafana dashboard", () => {
  test("the committed file is what `bun run grafana` writes now", () => {
    const committed = readFileSync(DASHBOARD_FILE, "utf8");
    if (committed !== grafanaDashboardJson())
      throw new Error(
        "infra/grafana/propgate-overview.json is stale: run `bun run grafana` and commit it",
      );
  });

  test("every overview panel is in it, in order, with the same PromQL, unit and legend", () => {
    const committed = JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as ReturnType<
      typeof grafanaDashboard
    >;
    expect(committed.panels.length).toBe(OVERVIEW_PANELS.length);
    OVERVIEW_PANELS.forEach((panel, index) => {
      const shown = committed.panels[index];
      expect(shown?.title).toBe(en[panel.title]);
      expect(shown?.targets.map((target) => target.expr)).toEqual(
        panel.queries.map((query) => query.expr),
      );
      expect(shown?.targets.map((target) => target.legendFormat)).toEqual(
        panel.queries.map((query) => legendFormat(query.legend)),
      );
    });
    expect(legendFormat("overview.legend.p95")).toBe("95th percentile · {{partner}}");
    const units = committed.panels.map((panel) => panel.fieldConfig.defaults.unit);
    expect(units).toEqual(["opm", "opm", "s", "percentunit", "opm", "short"]);
  });
});

/** A Prometheus stand-in: records each query_range form and answers as `answer` says. */
interface StandIn {
  url: URL;
  forms: URLSearchParams[];
  answer: (form: URLSearchParams) => Response | Promise<Response>;
  stop(): void;
}

function startStandIn(): StandIn {
  const standIn: StandIn = {
    url: new URL("http://127.0.0.1"),
    forms: [],
    answer: () => Response.json({ status: "success", data: { resultType: "matrix", result: [] } }),
    stop: () => server.stop(true),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (request.method !== "POST" || url.pathname !== "/prom/api/v1/query_range")
        return new Response("not found", { status: 404 });
      const form = new URLSearchParams(await request.text());
      standIn.forms.push(form);
      return standIn.answer(form);
    },
  });
  standIn.url = new URL(`http://127.0.0.1:${server.port}/prom`);
  return standIn;
}

const matrix = (result: unknown[]) =>
  Response.json({ status: "success", data: { resultType: "matrix", result } });

let database: TestDatabase;
let prometheus: StandIn;
const apps: AdminApp[] = [];
const NOW = Date.parse("2031-05-01T10:07:20Z");
const warnings: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  prometheus = startStandIn();
});

afterAll(async () => {
  for (const app of apps) app.stop();
  prometheus?.stop();
  await database?.close();
});

function adminApp(prometheusUrl: URL | null): AdminApp {
  const app = createAdminApp({
    apiUrl: new URL("http://127.0.0.1:9"),
    publicUrl: new URL("http://127.0.0.1:8790"),
    oidc: {
      issuer: new URL("http://127.0.0.1:9"),
      clientId: "propgate-admin",
      clientSecret: "unused",
      allowInsecureRequests: true,
    },
    session: { idleSeconds: 600, maxSeconds: 3600, secret: "x".repeat(44) },
    database: database.db,
    prometheusUrl,
    secureCookies: false,
    now: () => NOW,
    warn: (line) => warnings.push(line),
  });
  apps.push(app);
  return app;
}

async function signedIn(app: AdminApp, roles: string[]): Promise<string> {
  const { id } = await app.sessions.create({
    userId: "dev-viewer",
    roles,
    accessToken: "access-token-never-sent-to-prometheus",
    accessTokenExpiresAt: NOW + 3600_000,
    refreshToken: null,
    idToken: null,
  });
  return `propgate-admin=${id}`;
}

async function series(app: AdminApp, cookie: string, query: string, headers = {}) {
  const response = await app.app.request(`http://127.0.0.1:8790/overview/series?${query}`, {
    headers: { cookie, ...headers },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("/overview/series", () => {
  test("a viewer gets a panel's series over the last hour: the panel's PromQL, bounded and aligned", async () => {
    const app = adminApp(prometheus.url);
    const cookie = await signedIn(app, ["propgate:viewer"]);
    prometheus.forms.length = 0;
    prometheus.answer = (form) =>
      form.get("query")?.startsWith("histogram_quantile(0.5")
        ? matrix([
            {
              metric: { partner: "intercom" },
              values: [
                [Number(form.get("start")), "0.012"],
                [Number(form.get("start")) + 15, "NaN"],
              ],
            },
          ])
        : matrix([]);
    const { status, body } = await series(app, cookie, "panel=latency&range=hour");
    expect(status).toBe(200);
    const end = NOW / 1000;
    expect(body).toEqual({
      configured: true,
      panel: "latency",
      range: "hour",
      start: end - 3600,
      end,
      stepSeconds: 15,
      truncated: false,
      series: [
        {
          query: 0,
          labels: { partner: "intercom" },
          points: [
            [end - 3600, 0.012],
            [end - 3585, null],
          ],
        },
      ],
    });
    expect(prometheus.forms.map((form) => form.get("query"))).toEqual(
      (OVERVIEW_PANELS.find((panel) => panel.id === "latency")?.queries ?? []).map((query) =>
        promql(query.expr, 15),
      ),
    );
    expect(prometheus.forms[0]?.get("step")).toBe("15");
    expect(prometheus.forms[0]?.get("timeout")).toBe("5s");
  });

  test("without PROMETHEUS_URL: configured false, nothing asked of anyone", async () => {
    const app = adminApp(null);
    const cookie = await signedIn(app, ["propgate:operator"]);
    prometheus.forms.length = 0;
    const { status, body } = await series(app, cookie, "panel=opens&range=day");
    expect({ status, body }).toEqual({ status: 200, body: { configured: false } });
    expect(prometheus.forms).toEqual([]);
  });

  test("no session, no admin role, a cross-site request or a bad panel or range: refused, Prometheus not asked", async () => {
    const app = adminApp(prometheus.url);
    prometheus.forms.length = 0;
    expect((await series(app, "propgate-admin=nobody", "panel=opens&range=hour")).status).toBe(401);
    const resident = await signedIn(app, ["resident"]);
    const refused = await series(app, resident, "panel=opens&range=hour");
    expect(refused.status).toBe(403);
    expect((refused.body.error as { code: string }).code).toBe("FORBIDDEN");
    const viewer = await signedIn(app, ["propgate:viewer"]);
    const crossSite = await series(app, viewer, "panel=opens&range=hour", {
      "sec-fetch-site": "cross-site",
    });
    expect(crossSite.status).toBe(403);
    for (const query of [
      "panel=opens&range=week",
      "panel=up&range=hour",
      "panel=opens",
      'panel=opens"}&range=hour',
    ]) {
      const bad = await series(app, viewer, query);
      expect({ query, status: bad.status }).toEqual({ query, status: 400 });
      expect((bad.body.error as { code: string; message: string }).code).toBe("INVALID_INPUT");
    }
    expect(prometheus.forms).toEqual([]);
  });

  test("Prometheus down, refusing, slow, answering too much or not a matrix: 502 PROMETHEUS_UNAVAILABLE saying which", async () => {
    const viewerOf = async (url: URL) => {
      const app = adminApp(url);
      return { app, cookie: await signedIn(app, ["propgate:viewer"]) };
    };
    // Nothing listens on port 9 here.
    const down = await viewerOf(new URL("http://127.0.0.1:9"));
    const unreachable = await series(down.app, down.cookie, "panel=opens&range=hour");
    expect(unreachable.status).toBe(502);
    const error = unreachable.body.error as { code: string; message: string; requestId: string };
    expect(error.code).toBe("PROMETHEUS_UNAVAILABLE");
    expect(error.message).toContain("could not be reached");
    expect(error.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const up = await viewerOf(prometheus.url);
    const cases: [string, () => Response, string][] = [
      [
        "refused",
        () =>
          Response.json(
            { status: "error", errorType: "bad_data", error: "parse error" },
            { status: 400 },
          ),
        "refused the query: parse error",
      ],
      ["not JSON", () => new Response("<html>proxy error</html>", { status: 502 }), "not JSON"],
      [
        "a vector",
        () => Response.json({ status: "success", data: { resultType: "vector", result: [] } }),
        "not a matrix",
      ],
      ["too large", () => new Response(`{"pad":"${"x".repeat(3 * 1024 * 1024)}"}`), "too large"],
    ];
    for (const [name, answer, says] of cases) {
      prometheus.answer = answer;
      const failed = await series(up.app, up.cookie, "panel=queues&range=day");
      expect({ name, status: failed.status }).toEqual({ name, status: 502 });
      expect({ name, message: (failed.body.error as { message: string }).message }).toEqual({
        name,
        message: expect.stringContaining(says),
      });
    }
    // The warning names the failure, never the admin's token or session.
    expect(warnings.some((line) => line.includes("parse error"))).toBe(true);
    expect(warnings.join("\n")).not.toContain("access-token");
  });

  test("a slow Prometheus is given up on at the deadline; more lines than are drawn are cut", async () => {
    const panel = OVERVIEW_PANELS.find((each) => each.id === "opens") as OverviewPanel;
    // Every query of the panel waits; each gets a response of its own once released (one
    // Response sent twice would break the server's connection that the next request reuses).
    const { promise: never, resolve } = Promise.withResolvers<void>();
    prometheus.answer = () => never.then(() => new Response("late"));
    const slow = panelSeries(
      { url: prometheus.url, timeoutMs: 200, now: () => NOW },
      panel,
      "hour",
    );
    const reason = await slow.then(
      () => "answered",
      (error: unknown) => (error instanceof PrometheusError ? error.reason : "other"),
    );
    expect(reason).toBe("timeout");
    resolve();

    prometheus.answer = () =>
      matrix(
        Array.from({ length: MAX_SERIES + 5 }, (_, i) => ({
          metric: { operation: "intercom.open", outcome: `o${i}` },
          values: [[NOW / 1000, "1"]],
        })),
      );
    const many = await panelSeries({ url: prometheus.url, now: () => NOW }, panel, "hour");
    expect(many.series.length).toBe(MAX_SERIES);
    expect(many.truncated).toBe(true);
  });
});
