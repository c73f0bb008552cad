import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAdminEnv, type RunningAdmin, serveAdmin } from "@propgate/admin";
import type { Browser, Page } from "playwright-core";
import { ensureAdminClientSecret } from "../src/credentials.ts";
import {
  errorOf,
  grant,
  HIGH_RATE_LIMITS,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";
import { type Child, spawnChild } from "../src/testing/processes.ts";
import { chromiumAvailable, englishContext, launchChromium, signIn } from "./admin-browser.ts";

/**
 * The operations overview (issue 29): Debian's Prometheus scrapes a running stack (the api's and
 * the health probe's /metrics, every second); after a few door and gate opens and refusals the
 * overview, opened in Chromium with PROMETHEUS_URL set on the admin app, draws non-empty series
 * in every panel that has data (screenshots saved), in Russian and by the day too; an admin app
 * without PROMETHEUS_URL says so; with Prometheus gone the screen says it did not answer, and
 * nothing on the page breaks the CSP.
 */
const PROMETHEUS = "/usr/bin/prometheus";
const SCREENSHOTS = join(import.meta.dir, "screenshots");
const RESIDENT = "overview-resident-4c1e";

function prometheusAvailable(): boolean {
  if (existsSync(PROMETHEUS)) return true;
  if (process.env.CI)
    throw new Error(`${PROMETHEUS} is missing in CI: run scripts/install-system-tools.sh`);
  console.warn(
    `[skip] admin overview browser test: ${PROMETHEUS} is not installed (Debian package prometheus)`,
  );
  return false;
}
const available = chromiumAvailable("admin overview browser test") && prometheusAvailable();

let stack: TestStack;
let browser: Browser;
let prometheus: Child;
let prometheusUrl: string;
let folder: string;
/** A second admin app on the same stack, without PROMETHEUS_URL. */
let bare: RunningAdmin;
let bareSecret: { cleanup(): void } | undefined;

/** A loopback port nothing listens on now: Prometheus takes no port 0. */
function freePort(): number {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const { port } = server;
  server.stop(true);
  if (port === undefined) throw new Error("no free port");
  return port;
}

/** Polls `read` until `holds`; names `what` after `ms`. */
async function eventually<T>(
  what: string,
  read: () => Promise<T>,
  holds: (value: T) => boolean,
  ms = 30_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (holds(value)) return value;
    if (Date.now() > deadline)
      throw new Error(
        `not within ${ms} ms: ${what}: ${JSON.stringify(value)}; Prometheus said:\n${prometheus?.lines.join("\n")}`,
      );
    await Bun.sleep(200); // a poll interval, not a wait for state
  }
}

/** Prometheus's instant answer to `query`: how many series it has. */
async function seriesCount(query: string): Promise<number> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?${new URLSearchParams({ query })}`);
  if (!response.ok) return -1;
  const body = (await response.json()) as { data?: { result?: unknown[] } };
  return body.data?.result?.length ?? -1;
}

const hostPort = (url: string) => new URL(url).host;

beforeAll(async () => {
  if (!available) return;
  const port = freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  stack = await startTestStack({
    // The opens below go on until Prometheus has seen them rise: no limit or watch rule on them.
    env: HIGH_RATE_LIMITS,
    logLevel: "warn",
    healthProbe: { intervalMs: 1000 },
    adminEnv: { PROMETHEUS_URL: prometheusUrl },
  });
  if (!stack.metrics || !stack.probe) throw new Error("the stack has no /metrics or no probe");
  folder = mkdtempSync(join(tmpdir(), "propgate-prometheus-"));
  writeFileSync(
    join(folder, "prometheus.yml"),
    [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      "scrape_configs:",
      "  - job_name: propgate-api",
      "    static_configs:",
      `      - targets: ["${hostPort(stack.metrics.url)}"]`,
      "  - job_name: propgate-health-probe",
      "    static_configs:",
      `      - targets: ["${hostPort(stack.probe.url)}"]`,
      "",
    ].join("\n"),
  );
  prometheus = spawnChild(
    [
      PROMETHEUS,
      `--config.file=${join(folder, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(folder, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=1h",
      "--log.level=warn",
    ],
    { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  );
  await eventually(
    "Prometheus ready",
    () =>
      fetch(`${prometheusUrl}/-/ready`).then(
        (r) => r.status,
        () => 0,
      ),
    (status) => status === 200,
  );
  await eventually(
    "both targets scraped",
    () => seriesCount('up{job=~"propgate-.*"} == 1'),
    (count) => count === 2,
  );

  // Door and gate opens and refusals until Prometheus sees each kind rise: rate() needs two
  // samples of a series with growth between them, and a scrape may land anywhere among the
  // calls, so a round of each kind goes on about once a scrape rather than trusting one round
  // to be seen.
  const resident = await stack.resident(RESIDENT);
  await grant(resident, ["intercom", "barrier"]);
  const rising = [
    'increase(propgate_partner_requests_total{operation="intercom.open"}[1m]) > 0',
    'increase(propgate_partner_requests_total{operation="barrier.open"}[1m]) > 0',
    "increase(propgate_access_denied_total[1m]) > 0",
  ];
  let lastRound = 0;
  await eventually(
    "door opens, gate opens and refusals rising in Prometheus",
    async () => {
      if (Date.now() - lastRound >= 1000) {
        lastRound = Date.now();
        await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
        await resident.trpc.barrier.open.mutate({ deviceId: "gate-a" });
        await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: "door-b1" }));
      }
      return Promise.all(rising.map(seriesCount));
    },
    (counts) => counts.every((count) => count >= 1),
  );

  browser = await launchChromium();

  // The same stack's admin app again, without PROMETHEUS_URL: the embedded default's.
  const secret = ensureAdminClientSecret(null);
  bareSecret = secret;
  bare = await serveAdmin(
    loadAdminEnv({
      PROPGATE_ENV: "development",
      HOST: "127.0.0.1",
      PORT: "0",
      API_URL: stack.api.url,
      ADMIN_OIDC_ISSUER: stack.issuer.issuer,
      ADMIN_OIDC_CLIENT_ID: "propgate-admin-bare",
      ADMIN_OIDC_CLIENT_SECRET_FILE: secret.file,
    }),
    { database: stack.database },
  );
  stack.issuer.registerClient({
    clientId: "propgate-admin-bare",
    clientSecret: secret.secret,
    redirectUris: [bare.redirectUri],
    postLogoutRedirectUris: [bare.postLogoutRedirectUri],
  });
}, 120_000);

afterAll(async () => {
  if (!available) return;
  await browser?.close();
  await prometheus?.stop();
  await bare?.stop();
  bareSecret?.cleanup();
  await stack?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

interface Drawn {
  state: string | undefined;
  series: number;
  points: number;
}

/** Each chart as the screen drew it: its state and how many lines and points. */
function charts(page: Page): Promise<Record<string, Drawn>> {
  return page.locator("figure.chart").evaluateAll((figures) =>
    Object.fromEntries(
      figures.map((figure) => {
        const data = (figure as HTMLElement).dataset;
        return [
          data.panel,
          { state: data.state, series: Number(data.series), points: Number(data.points) },
        ];
      }),
    ),
  );
}

/** The overview once every chart is drawn or says why not. */
async function openOverview(page: Page, adminUrl: string, query = "") {
  await page.goto(`${adminUrl}/#/overview${query}`);
  await page.locator("#signed-in[data-role]").waitFor();
  await page.waitForFunction(() => {
    const section = document.querySelector("#screen-overview");
    if (!section || section.hasAttribute("aria-busy") || !section.getAttribute("data-overview"))
      return false;
    return [...section.querySelectorAll("figure.chart")].every(
      (figure) => figure.getAttribute("data-state") !== "loading",
    );
  });
}

function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** CSP violations the page reports, collected from its console. */
function violations(page: Page): string[] {
  const found: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/.test(message.text())) found.push(message.text());
  });
  return found;
}

describe.skipIf(!available)("the operations overview from Prometheus", () => {
  test("after opens and refusals every panel with data draws non-empty series; the legend explains the codes", async () => {
    const context = await englishContext(browser, { viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    const csp = violations(page);
    await signIn(page, stack.admin.url, stack.issuer.url, "viewer");
    // Within a few scrapes each panel with data has its points (the probe's first round included).
    const drawn = await eventually(
      "the overview's charts drawn",
      async () => {
        await openOverview(page, stack.admin.url);
        return charts(page);
      },
      (shown) =>
        ["opens", "refusals", "latency", "availability", "queues"].every(
          (id) => shown[id]?.state === "drawn" && (shown[id]?.points ?? 0) > 0,
        ),
    );
    expect(Object.keys(drawn)).toEqual([
      "opens",
      "refusals",
      "latency",
      "availability",
      "blocks",
      "queues",
    ]);
    // Opens of both kinds; two partners' latency, each a median and a 95th percentile; every
    // check of both partners; both queues. No block was placed: that chart says so.
    expect(drawn.opens?.series).toBeGreaterThanOrEqual(2);
    expect(drawn.latency?.series).toBe(4);
    expect(drawn.availability?.series).toBeGreaterThanOrEqual(4);
    expect(drawn.queues?.series).toBe(2);
    expect(drawn.blocks).toEqual({ state: "empty", series: 0, points: 0 });
    expect(await page.locator('figure[data-panel="blocks"]').textContent()).toContain(
      "No data in this period.",
    );
    // Canvas charts with their legends: the refusal's cause and the opens' operations explained.
    expect(await page.locator('figure[data-panel="opens"] canvas').count()).toBeGreaterThan(0);
    const refusals =
      (await page.locator('figure[data-panel="refusals"] ul.legend').textContent()) ?? "";
    expect(refusals).toContain("FORBIDDEN_DEVICE");
    const opens = (await page.locator('figure[data-panel="opens"] ul.legend').textContent()) ?? "";
    expect(opens).toContain("intercom.open");
    expect(opens).toContain("barrier.open");
    expect(opens).toContain("success");
    expect(await page.locator('figure[data-panel="latency"] ul.legend').textContent()).toContain(
      "95th percentile",
    );
    expect(await page.locator("#overview-unconfigured").isHidden()).toBe(true);
    // The pointer on the newest minute: its time, and each line's value in its legend entry.
    const plot = page.locator('figure[data-panel="opens"] .u-over');
    const box = await plot.boundingBox();
    if (!box) throw new Error("the opens chart has no plotting area");
    await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
    expect(await page.locator('figure[data-panel="opens"] .reading-time').textContent()).toMatch(
      /\d{2}:\d{2}:\d{2}/,
    );
    const readings = await page.locator('figure[data-panel="opens"] .reading').allTextContents();
    expect(readings.length).toBe(drawn.opens?.series ?? -1);
    for (const reading of readings) expect(reading).toMatch(/^ = (—|[\d.,]+\/min)$/);
    await screenshot(page, "admin-overview-drawn-en");

    // The last day: the same panels, drawn from the same data at a coarser step.
    await page.locator("#overview-range").selectOption("day");
    await page.waitForURL(/#\/overview\?range=day$/);
    await openOverview(page, stack.admin.url, "?range=day");
    const day = await charts(page);
    expect(day.opens?.state).toBe("drawn");
    expect(day.opens?.points).toBeGreaterThan(0);
    expect(csp).toEqual([]);
    await context.close();
  });

  test("in Russian at a phone's width: the charts fit the page and the labels are Russian", async () => {
    const context = await browser.newContext({
      locale: "ru-RU",
      timezoneId: "Europe/Moscow",
      viewport: { width: 390, height: 900 },
    });
    const page = await context.newPage();
    await signIn(page, stack.admin.url, stack.issuer.url, "operator");
    await openOverview(page, stack.admin.url);
    expect(await page.locator("#overview-heading").textContent()).toBe("Обзор работы");
    expect(await page.locator('figure[data-panel="latency"] figcaption').textContent()).toBe(
      "Задержка партнёров: медиана и 95-й процентиль",
    );
    const shown = await charts(page);
    expect(shown.opens?.state).toBe("drawn");
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({
      scrollWidth: document.scrollingElement?.scrollWidth ?? 0,
      innerWidth: window.innerWidth,
    }));
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
    await screenshot(page, "admin-overview-drawn-ru-390");
    await page.setViewportSize({ width: 1366, height: 900 });
    await openOverview(page, stack.admin.url);
    await screenshot(page, "admin-overview-drawn-ru");
    await context.close();
  });

  test("an admin app without PROMETHEUS_URL says Prometheus is not set up, and draws nothing", async () => {
    const context = await englishContext(browser, { viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    await signIn(page, bare.url, stack.issuer.url, "viewer");
    await openOverview(page, bare.url);
    const notice = page.locator("#overview-unconfigured");
    expect(await notice.isVisible()).toBe(true);
    expect(await notice.textContent()).toContain("Prometheus is not set up");
    expect(await notice.textContent()).toContain("PROMETHEUS_URL");
    expect(await page.locator("figure.chart").count()).toBe(0);
    expect(await page.locator("#overview-range").isHidden()).toBe(true);
    expect(await page.locator("#overview-unavailable").isHidden()).toBe(true);
    await screenshot(page, "admin-overview-unconfigured-en");
    await context.close();
  });

  // Last: it stops Prometheus.
  test("with Prometheus gone the screen says it did not answer; the rest of the page works", async () => {
    const context = await englishContext(browser, { viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    const csp = violations(page);
    await signIn(page, stack.admin.url, stack.issuer.url, "viewer");
    await prometheus.stop();
    await openOverview(page, stack.admin.url);
    const alert = page.locator("#overview-unavailable");
    expect(await alert.isVisible()).toBe(true);
    expect(await alert.textContent()).toContain("Prometheus did not answer");
    expect(await alert.getAttribute("data-code")).toBe("PROMETHEUS_UNAVAILABLE");
    const shown = await charts(page);
    expect(Object.values(shown).map((chart) => chart.state)).toEqual(Array(6).fill("failed"));
    await screenshot(page, "admin-overview-unavailable-en");
    // Another screen still loads.
    await page.locator('nav a[data-nav="partners"]').click();
    await page.locator('#partners article[data-partner="intercom"]').waitFor();
    expect(csp).toEqual([]);
    await context.close();
  });
});
