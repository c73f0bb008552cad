import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { recordAuditEvent } from "@propgate/consent-audit";
import { auditEvents } from "@propgate/consent-audit/schema";
import { eq } from "drizzle-orm";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startTestStack, type TestStack } from "../src/testing/harness.ts";
import { chromiumAvailable, englishContext, launchChromium, signIn } from "./admin-browser.ts";
import { seedAuditRows, seedRow } from "./audit-seed.ts";

/**
 * The audit screen over 100,000 seeded rows in Chromium (issue 13): pages forward and back by
 * the api's cursors (unfiltered, under a user filter to the oldest page, under a time range typed
 * in the admin's zone), the filtered rows downloaded as CSV (a Blob URL under the app's CSP), and
 * the integrity verdict, intact and then naming a row edited behind the writer's back.
 */
const available = chromiumAvailable("admin audit browser test");
const SCREENSHOTS = join(import.meta.dir, "screenshots");
const SEEDED = 100_000;
const TIME_ZONE = "Europe/Berlin";

let stack: TestStack;
let browser: Browser;
let operator: BrowserContext;
let page: Page;
const cspViolations: string[] = [];

beforeAll(async () => {
  if (!available) return;
  stack = await startTestStack({ logLevel: "warn" });
  await seedAuditRows(stack, SEEDED, "seed/admin-audit-screen");
  browser = await launchChromium();
  operator = await englishContext(browser, {
    timezoneId: TIME_ZONE,
    locale: "en-GB",
    viewport: { width: 1400, height: 900 },
    acceptDownloads: true,
  });
  page = await operator.newPage();
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) cspViolations.push(message.text());
  });
  await signIn(page, stack.admin.url, stack.issuer.url, "operator");
  await page.goto(`${stack.admin.url}/#/audit`);
  await page.locator("#audit tbody tr[data-seq]").first().waitFor();
}, 180_000);

afterAll(async () => {
  if (!available) return;
  await browser?.close();
  await stack?.close();
});

const screen = () => page.locator("#screen-audit");

/** The rows shown: seq and id (the request id column holds nothing for seeded rows). */
async function shownRows(): Promise<{ seq: number; kind: string }[]> {
  return page.locator("#audit tbody tr[data-seq]").evaluateAll((rows) =>
    rows.map((row) => ({
      seq: Number(row.getAttribute("data-seq")),
      kind: row.getAttribute("data-kind") ?? "",
    })),
  );
}

/** Runs `action` and waits until the screen has shown the page it asked for. */
async function shown(action: () => Promise<unknown>) {
  const renders = Number((await page.locator("#audit").getAttribute("data-renders")) ?? "0");
  await action();
  await page.waitForFunction(
    (before) => Number(document.getElementById("audit")?.dataset.renders ?? "0") > before,
    renders,
  );
  return shownRows();
}

const turn = (name: "Newer" | "Older") =>
  shown(() => screen().getByRole("button", { name, exact: true }).click());

async function applyFilters(fill: () => Promise<unknown>) {
  await shown(() => screen().getByRole("button", { name: "Clear" }).click());
  await fill();
  await shown(() => screen().getByRole("button", { name: "Apply filters" }).click());
}

describe.skipIf(!available)("the audit screen over 100,000 rows", () => {
  test("pages older and newer without gaps or repeats, back to the newest", async () => {
    await applyFilters(() => screen().getByLabel("Rows per page").selectOption("500"));
    const pages = [await shownRows()];
    expect(await screen().getByRole("button", { name: "Newer" }).isDisabled()).toBe(true);
    expect(await page.locator("#audit-position").textContent()).toStartWith("Page 1 (newest)");
    for (let i = 0; i < 5; i++) pages.push(await turn("Older"));
    expect(await page.locator("#audit-position").textContent()).toStartWith("Page 6 ·");
    const seqs = pages.flat().map((row) => row.seq);
    expect(seqs).toHaveLength(3000);
    expect(new Set(seqs).size).toBe(3000);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    // The seeded rows are one contiguous run of seq: no row skipped between pages.
    expect((seqs[0] ?? 0) - (seqs.at(-1) ?? 0)).toBe(2999);

    const back: { seq: number }[][] = [];
    for (let i = 0; i < 5; i++) back.unshift(await turn("Newer"));
    expect(back.map((rows) => rows.map((row) => row.seq))).toEqual(
      pages.slice(0, 5).map((rows) => rows.map((row) => row.seq)),
    );
    expect(await screen().getByRole("button", { name: "Newer" }).isDisabled()).toBe(true);
    expect(await page.locator("#audit-position").textContent()).toStartWith("Page 1 (newest)");
  }, 120_000);

  test("under a user filter it pages to the oldest row and back", async () => {
    await applyFilters(() => screen().getByLabel("User id").fill("seed-user-7"));
    await page.waitForURL(/#\/audit\?userId=seed-user-7$/);
    const first = await shownRows();
    expect(first).toHaveLength(50);
    const pages = [first];
    while (!(await screen().getByRole("button", { name: "Older" }).isDisabled()))
      pages.push(await turn("Older"));
    // 100,000 rows, one in 500 of them seed-user-7's: 200 rows, 4 pages of 50.
    expect(pages.map((rows) => rows.length)).toEqual([50, 50, 50, 50]);
    expect(await page.locator("#audit-position").textContent()).toStartWith("Page 4 (oldest)");
    const oldest = page.locator("#audit tbody tr").last();
    expect(await oldest.textContent()).toContain("seed-user-7");
    expect(await oldest.textContent()).toContain("door-seed-7");
    for (let i = 0; i < 3; i++) await turn("Newer");
    expect(await shownRows()).toEqual(first);
  }, 60_000);

  test("a time range typed in the admin's zone selects the rows of that hour", async () => {
    // 12:00 to 12:10 in Berlin on 1 January is 11:00 to 11:10 UTC: seeded rows 39,600 to 40,199.
    await applyFilters(async () => {
      await screen().getByLabel("From (your time)").fill("2025-01-01T12:00");
      await screen().getByLabel("Until (your time)").fill("2025-01-01T12:10");
      await screen().getByLabel("Rows per page").selectOption("500");
    });
    expect(page.url()).toContain(
      `from=${encodeURIComponent("2025-01-01T11:00:00.000Z")}&to=${encodeURIComponent("2025-01-01T11:10:00.000Z")}`,
    );
    const newest = page.locator("#audit tbody tr").first();
    expect(await newest.locator("time").getAttribute("datetime")).toBe(
      seedRow(40_199).at.toISOString(),
    );
    expect(await newest.locator("time").textContent()).toContain("12:09:59");
    const pages = [await shownRows(), await turn("Older")];
    expect(pages.map((rows) => rows.length)).toEqual([500, 100]);
    expect(await screen().getByRole("button", { name: "Older" }).isDisabled()).toBe(true);
    expect(
      await page.locator("#audit tbody tr").last().locator("time").getAttribute("datetime"),
    ).toBe(seedRow(39_600).at.toISOString());
    await turn("Newer");
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, "admin-audit.png") });
  });

  test("a traced row shows its trace id under its request id, to find the trace", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    await recordAuditEvent(stack.database.db, {
      sourceApp: "api",
      instanceId: "trace-test",
      requestId: "req-traced-1",
      traceId,
      kind: "partner.request",
      result: "ok",
      userId: "trace-user-1",
      operation: "intercom.open",
      partner: "intercom",
      purpose: "intercom",
      target: "door-a1",
      attempt: 1,
    });
    await applyFilters(() => screen().getByLabel("User id").fill("trace-user-1"));
    const row = page.locator("#audit tbody tr[data-kind='partner.request']");
    expect(await row.count()).toBe(1);
    expect(await row.locator(".trace").getAttribute("data-trace")).toBe(traceId);
    expect(await row.locator("td", { hasText: "req-traced-1" }).textContent()).toBe(
      `req-traced-1trace ${traceId}`,
    );
  });

  test("exports the filtered rows as a CSV download", async () => {
    await applyFilters(async () => {
      await screen().getByLabel("User id").fill("seed-user-9");
      await screen().getByLabel("Partner").selectOption("intercom");
    });
    const downloading = page.waitForEvent("download");
    await screen().getByRole("button", { name: "Export CSV" }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(
      /^propgate-audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.csv$/,
    );
    expect(download.url()).toStartWith(`blob:${stack.admin.url}/`);
    const csv = readFileSync(await download.path(), "utf8");
    const [header, ...lines] = csv.split("\r\n");
    expect(header?.split(",").slice(0, 6)).toEqual([
      '"seq"',
      '"at"',
      '"chain_id"',
      '"chain_seq"',
      '"id"',
      '"kind"',
    ]);
    expect(header?.split(",")).toContain('"reason"');
    expect(lines.at(-1)).toBe("");
    const rows = lines.slice(0, -1);
    // seed-user-9's rows are all odd, so all intercom: 200 of them.
    expect(rows).toHaveLength(SEEDED / 500);
    expect(rows[0]).toContain(`,"${seedRow(99_509).id}","partner.request",`);
    expect(rows[0]).toContain(',"seed-user-9",');
    expect(rows[0]).toContain(',"intercom.open","intercom","intercom","door-seed-109",');
    expect(rows.every((row) => row.includes(',"seed-user-9",'))).toBe(true);
    await page
      .locator("#audit-export-result", { hasText: `Exported ${SEEDED / 500} rows` })
      .waitFor();
    expect(cspViolations).toEqual([]);
  });

  test("verify integrity: intact, then the first bad row and why", async () => {
    await screen().getByRole("button", { name: "Verify integrity" }).click();
    await page.locator("#verify-result.ok").waitFor({ timeout: 60_000 });
    expect(await page.locator("#verify-result").textContent()).toMatch(
      /^Intact: \d{3},\d{3} events checked/, // a number as the admin's language writes it
    );

    // Behind the writer's back (the test database's owner may): one seeded row's outcome edited.
    const edited = seedRow(50_001).id;
    const [row] = await stack.database.db
      .update(auditEvents)
      .set({ result: "ok" })
      .where(eq(auditEvents.id, edited))
      .returning({ seq: auditEvents.seq });
    if (!row) throw new Error(`no row ${edited}`);
    await screen().getByRole("button", { name: "Verify integrity" }).click();
    await page.locator("#verify-result.bad").waitFor({ timeout: 60_000 });
    expect(await page.locator("#verify-result").textContent()).toContain(
      `Broken: first bad row is seq ${row.seq} (row content does not match its hash)`,
    );
    await page.screenshot({ path: join(SCREENSHOTS, "admin-audit-broken.png") });
    const rows = await shown(() =>
      screen()
        .getByRole("button", { name: `Show row ${row.seq}` })
        .click(),
    );
    expect(rows[0]?.seq).toBe(row.seq);
  }, 120_000);
});
