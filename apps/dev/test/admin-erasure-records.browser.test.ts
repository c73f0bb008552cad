import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { listAuditEvents } from "@propgate/consent-audit";
import type { Browser, BrowserContext, Download, Page } from "playwright-core";
import { startTestStack, type TestStack } from "../src/testing/harness.ts";
import { chromiumAvailable, englishContext, launchChromium, signIn } from "./admin-browser.ts";

/**
 * The erasures screen's "Destruction records" export in Chromium (issue 28, item 3): erasures
 * confirmed by the partners through the real worker leave destruction records; an operator
 * downloads a day's as CSV (formula-safe cells, as the audit CSV), a viewer a longer period's as
 * JSON; the days are the admin's (Moscow), both inclusive; each export is audited. A period that
 * ends before it starts is refused on the page and nothing is asked of the api.
 */
const available = chromiumAvailable("admin erasure records browser test");
const TIME_ZONE = "Europe/Moscow";
/** A user id a spreadsheet would take for a formula (`-cmd|…`): its CSV cell must start with `'`. */
const FORMULA_USER = "-cmd|erasure-records-faces";
const PLATES_USER = "erasure-records-plates";
/** Confirmed too, but moved 400 days back: outside the day exported, inside the longer period. */
const OLD_USER = "erasure-records-old";

let stack: TestStack;
let browser: Browser;
let operator: BrowserContext;
let viewer: BrowserContext;
const cspViolations: string[] = [];
/** The day (in Moscow) the erasures were confirmed, and the old record's day. */
let today: string;
let oldDay: string;

const moscowDay = (iso: string) =>
  new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE }).format(new Date(iso));

function jpeg(marker: string): string {
  return Buffer.concat([
    Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
    Buffer.from(marker.padEnd(64, " ")),
    Buffer.from([0xff, 0xd9]),
  ]).toString("base64");
}

/** Three residents whose data the partners held, erased after their consent was revoked. */
async function confirmedErasures() {
  for (const userId of [FORMULA_USER, OLD_USER]) {
    const resident = await stack.resident(userId);
    await resident.trpc.consent.grant.mutate({ purpose: "faces", noticeVersion: 1 });
    await resident.trpc.faces.enroll.mutate({ image: jpeg(userId) });
    await resident.trpc.consent.revoke.mutate({ purpose: "faces" });
  }
  const plates = await stack.resident(PLATES_USER);
  await plates.trpc.consent.grant.mutate({ purpose: "plates", noticeVersion: 1 });
  await plates.trpc.plates.add.mutate({ siteId: "site-a", plate: "Е 002 КХ 97" });
  await plates.trpc.consent.revoke.mutate({ purpose: "plates" });
  // The worker as it runs in production, once: each partner answers 200 with its counts.
  expect(await stack.background.runErasuresOnce()).toBe(3);
  // As if confirmed 400 days ago (the test database's owner may; the api's role may not).
  await stack.database.db.execute(
    `update destruction_records set destroyed_at = destroyed_at - interval '400 days' where user_id = '${OLD_USER}'`,
  );
}

beforeAll(async () => {
  if (!available) return;
  // Erasures are sent when the test runs the worker, not by its timer.
  stack = await startTestStack({ logLevel: "warn", env: { ERASURE_INTERVAL_MS: "3600000" } });
  await confirmedErasures();
  const admin = stack.client(
    await stack.issuer.mint({ sub: "test-setup", sites: [], admin: true }),
  );
  const exported = await admin.admin.erasures.records.query({ format: "json" });
  if (exported.format !== "json") throw new Error("json asked");
  const at = (userId: string) =>
    exported.records.find((record) => record.userId === userId)?.destroyedAt ?? "";
  today = moscowDay(at(FORMULA_USER));
  oldDay = moscowDay(at(OLD_USER));
  browser = await launchChromium();
  const context = () =>
    englishContext(browser, {
      timezoneId: TIME_ZONE,
      locale: "en-GB",
      viewport: { width: 1400, height: 900 },
      acceptDownloads: true,
    });
  operator = await context();
  viewer = await context();
  for (const [who, account] of [
    [operator, "operator"],
    [viewer, "viewer"],
  ] as const) {
    const page = await who.newPage();
    await signIn(page, stack.admin.url, stack.issuer.url, account);
    await page.close();
  }
}, 120_000);

afterAll(async () => {
  if (!available) return;
  await browser?.close();
  await stack?.close();
});

/** The erasures screen, once it knows who is signed in and has listed the erasures. */
async function erasuresScreen(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) cspViolations.push(message.text());
  });
  await page.goto(`${stack.admin.url}/#/erasures`);
  await page.locator("#signed-in[data-role]").waitFor();
  await page.locator('#erasures tr[data-status="done"]').first().waitFor();
  return page;
}

const records = (page: Page) => page.locator("#destruction-records");

/** Fills the period and format, presses Export and returns the download. */
async function exportRecords(page: Page, from: string, to: string, format: "CSV" | "JSON") {
  await records(page).getByLabel("From (your date)").fill(from);
  await records(page).getByLabel("To, inclusive (your date)").fill(to);
  await records(page).getByLabel("Format").selectOption({ label: format });
  const downloading = page.waitForEvent("download");
  await records(page).getByRole("button", { name: "Export destruction records" }).click();
  return downloading;
}

const text = async (download: Download) => readFileSync(await download.path(), "utf8");

/** Midnight starting `day` in Moscow (UTC+3 all year), as the api's ISO instant. */
const moscowMidnight = (day: string) => new Date(`${day}T00:00:00+03:00`).toISOString();
const nextDay = (day: string) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

describe.skipIf(!available)("destruction records export on the erasures screen", () => {
  test("an operator downloads a day's records as CSV: a header, one row per record, formula-safe cells", async () => {
    const page = await erasuresScreen(operator);
    const download = await exportRecords(page, today, today, "CSV");
    expect(download.suggestedFilename()).toBe(
      `propgate-destruction-records-${today}-to-${today}.csv`,
    );
    expect(download.url()).toStartWith(`blob:${stack.admin.url}/`);
    const [header, ...lines] = (await text(download)).split("\r\n");
    expect(header).toBe(
      '"id","erasureId","userId","partner","categories","confirmedBy","destroyedAt","requestedAt","recordedAt","erased","keepUntil"',
    );
    expect(lines.at(-1)).toBe("");
    const rows = lines.slice(0, -1);
    // The day's two, not the record moved 400 days back.
    expect(rows).toHaveLength(2);
    const faces = rows.find((row) => row.includes('"intercom"'));
    const plates = rows.find((row) => row.includes('"barrier"'));
    // `-cmd|…` would start a formula: written as text, `'` first, like the audit CSV's cells.
    expect(faces).toContain(`,"'${FORMULA_USER}","intercom","faces","200 on DELETE",`);
    expect(faces).not.toContain(`,"${FORMULA_USER}",`);
    expect(faces).toContain(',"{""faces"":1}",');
    expect(plates).toContain(`,"${PLATES_USER}","barrier","plates","200 on DELETE",`);
    expect(rows.join("\n")).not.toContain(OLD_USER);
    // Kept three years from the destruction.
    const cells = (faces ?? "").split('","');
    const destroyedAt = cells[6] ?? "";
    expect(cells[10]?.slice(0, 4)).toBe(String(Number(destroyedAt.slice(0, 4)) + 3));
    await page
      .locator("#records-result", {
        hasText: `Exported 2 destruction records (destroyed ${today} to ${today}, your dates) to propgate-destruction-records-${today}-to-${today}.csv.`,
      })
      .waitFor();
    await page.close();
  });

  test("a viewer downloads a longer period's records as JSON, with the period asked", async () => {
    const page = await erasuresScreen(viewer);
    // A viewer acts on nothing, but exports as the audit trail is exported.
    expect(await page.locator("#signed-in").getAttribute("data-role")).toBe("viewer");
    const download = await exportRecords(page, oldDay, today, "JSON");
    expect(download.suggestedFilename()).toBe(
      `propgate-destruction-records-${oldDay}-to-${today}.json`,
    );
    const file = JSON.parse(await text(download)) as {
      destroyedFrom: string;
      destroyedBefore: string;
      format: string;
      records: Array<{
        userId: string;
        partner: string;
        categories: string[];
        confirmedBy: string;
      }>;
    };
    expect(file.destroyedFrom).toBe(moscowMidnight(oldDay));
    expect(file.destroyedBefore).toBe(moscowMidnight(nextDay(today)));
    expect(file.format).toBe("json");
    const shown = file.records.map((record) => [
      record.userId,
      record.partner,
      record.categories.join(","),
      record.confirmedBy,
    ]);
    // Oldest first: the record moved back, then the day's two (in the order they were confirmed).
    expect(shown[0]).toEqual([OLD_USER, "intercom", "faces", "200 on DELETE"]);
    expect(shown.slice(1).sort()).toEqual([
      [FORMULA_USER, "intercom", "faces", "200 on DELETE"],
      [PLATES_USER, "barrier", "plates", "200 on DELETE"],
    ]);
    await page.locator("#records-result", { hasText: "Exported 3 destruction records" }).waitFor();
    await page.close();
  });

  test("each export is audited, with the admin and the period asked", async () => {
    const audited = await listAuditEvents(stack.database.db, { kind: "admin.erasures.records" });
    const byAdmins = audited.filter((row) => row.actor?.includes("dev-"));
    expect(byAdmins.map((row) => [row.actor, row.target]).sort()).toEqual(
      [
        [
          expect.stringContaining("dev-operator"),
          `csv:${moscowMidnight(today)}..${moscowMidnight(nextDay(today))}`,
        ],
        [
          expect.stringContaining("dev-viewer"),
          `json:${moscowMidnight(oldDay)}..${moscowMidnight(nextDay(today))}`,
        ],
      ].sort(),
    );
  });

  test("a period that ends before it starts: a clear error, nothing downloaded or asked", async () => {
    const before = (await listAuditEvents(stack.database.db, { kind: "admin.erasures.records" }))
      .length;
    const page = await erasuresScreen(operator);
    let downloads = 0;
    page.on("download", () => {
      downloads += 1;
    });
    await records(page).getByLabel("From (your date)").fill(today);
    await records(page).getByLabel("To, inclusive (your date)").fill(oldDay);
    await records(page).getByRole("button", { name: "Export destruction records" }).click();
    const error = records(page).getByRole("alert");
    await error.waitFor();
    // The page's own refusal in plain words: no code, no request id (nothing was asked).
    expect(await error.textContent()).toBe("“To” must not be before “From”");
    expect(await page.locator("#records-result").textContent()).toBe("");
    // The erasures list above is not in error: the export has its own.
    expect(await page.locator('#screen-erasures > [role="alert"]').isVisible()).toBe(false);
    expect(downloads).toBe(0);
    expect(
      (await listAuditEvents(stack.database.db, { kind: "admin.erasures.records" })).length,
    ).toBe(before);
    expect(cspViolations).toEqual([]);
    await page.close();
  });
});
