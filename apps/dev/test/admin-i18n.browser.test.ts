import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { loadProbeEnv, startHealthProbe } from "@propgate/health-probe";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { en } from "../../admin/src/page/i18n/en.ts";
import { ru } from "../../admin/src/page/i18n/ru.ts";
import { errorOf, grant, startTestStack, type TestStack } from "../src/testing/harness.ts";
import { chromiumAvailable, launchChromium, signIn } from "./admin-browser.ts";

/**
 * The admin app in its users' language (issue 29): in Chromium with `ru-RU`, every screen
 * renders in Russian with no English label left (the rendered text checked against the English
 * catalogue), then in English after the header's switch, which survives a reload; screenshots of
 * each screen in both; at 1366 px and 390 px no table overflows the page. A bad audit filter
 * shows a plain message and no rows; an id's beginning finds the resident; a made-up id says
 * never seen.
 */
const available = chromiumAvailable("admin i18n browser test");
const SCREENSHOTS = join(import.meta.dir, "screenshots");
const SCREENS = [
  "resident",
  "audit",
  "watch",
  "overview",
  "partners",
  "vpn",
  "devices",
  "erasures",
  "webhooks",
] as const;
const RESIDENT = "i18n-resident-7f3a";

let stack: TestStack;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  if (!available) return;
  stack = await startTestStack({ logLevel: "warn", env: { ERASURE_INTERVAL_MS: "3600000" } });
  // Rows on every screen: a resident with a history, a refusal and a pending erasure.
  const resident = await stack.resident(RESIDENT);
  await grant(resident, ["intercom", "barrier", "faces", "journal"]);
  await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
  await resident.trpc.consent.revoke.mutate({ purpose: "faces" });
  await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: "door-b1" }));
  // Partner health from one probe round.
  const probe = await startHealthProbe(
    loadProbeEnv({
      PROPGATE_ENV: "development",
      HOST: "127.0.0.1",
      PORT: "0",
      DATA_DIR: "/nonexistent-not-used",
      LOG_LEVEL: "silent",
      PROBE_INTERVAL_MS: "3600000",
      ...Object.fromEntries(
        Object.entries(stack.env).filter(([name]) => name.startsWith("PARTNER_")),
      ),
    }),
    { database: stack.database, vpn: false },
  );
  await probe.loop.round();
  await probe.stop();

  browser = await launchChromium();
  context = await browser.newContext({
    locale: "ru-RU",
    timezoneId: "Europe/Moscow",
    viewport: { width: 1366, height: 900 },
  });
  const page = await context.newPage();
  await signIn(page, stack.admin.url, stack.issuer.url, "operator");
  await page.close();
});

afterAll(async () => {
  if (!available) return;
  await browser?.close();
  await stack?.close();
});

/** The screen at `#/<hash>` once it has loaded (no status line, its tables filled). */
async function open(page: Page, hash: string) {
  await page.goto(`${stack.admin.url}/#/${hash}`);
  await settled(page);
}

async function settled(page: Page) {
  await page.locator("#signed-in[data-role]").waitFor();
  await page.waitForFunction(() => {
    const screen = document.querySelector("main > section:not([hidden])");
    return (
      screen !== null &&
      !screen.querySelector("[aria-busy]") &&
      !screen.hasAttribute("aria-busy") &&
      [...screen.querySelectorAll("p.status")].every((status) => status.textContent === "")
    );
  });
}

/**
 * The text an admin reads: visible text nodes outside what is marked `translate="no"` (codes,
 * ids, data such as device names), option labels of visible selects included (less their code).
 */
function readableText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const parts: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      const element = node.parentElement;
      if (!element || element.closest('[translate="no"], script, style')) continue;
      const shown = element.closest("select") ?? element;
      if (!shown.checkVisibility()) continue;
      // An option shows its code beside the explanation: the code is the same in both languages.
      const code = element instanceof HTMLOptionElement ? element.value : "";
      parts.push((node.textContent ?? "").replace(code ? ` · ${code}` : "", ""));
    }
    return parts.join("\n");
  });
}

/** A catalogue's texts as fragments around their `{parameters}`, for finding in a page. */
function fragments(catalogue: Record<string, unknown>, other: Record<string, unknown>): string[] {
  const found = new Set<string>();
  for (const [key, message] of Object.entries(catalogue)) {
    const texts = typeof message === "string" ? [message] : Object.values(message as object);
    const otherTexts = new Set(
      typeof other[key] === "string" ? [other[key]] : Object.values((other[key] ?? {}) as object),
    );
    for (const text of texts as string[]) {
      if (otherTexts.has(text)) continue; // the same in both (a code): not a label left over
      for (const part of text.split(/\{\w+\}/)) {
        const trimmed = part.trim().replace(/^[\s,.:;·(“«—-]+|[\s,.:;·)”»—-]+$/g, "");
        if (/\p{L}{4}/u.test(trimmed)) found.add(trimmed);
      }
    }
  }
  return [...found];
}

const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The other language's labels found in the page's readable text. */
function leftOver(text: string, labels: string[]): string[] {
  return labels.filter((label) =>
    // Not inside a code or id either (`consent_revoked`, `dev-operator`).
    new RegExp(`(^|[^\\p{L}\\p{N}_.:-])${literally(label)}($|[^\\p{L}\\p{N}_.:-])`, "u").test(text),
  );
}

async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Whether the page scrolls sideways: no table may push it past the window. */
function pageOverflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number }> {
  return page.evaluate(() => ({
    scrollWidth: document.scrollingElement?.scrollWidth ?? 0,
    innerWidth: window.innerWidth,
  }));
}

const hashOf = (screen: (typeof SCREENS)[number]) =>
  screen === "resident" ? `resident?userId=${RESIDENT}` : screen;

describe.skipIf(!available)("the admin app in Russian and English", () => {
  test("every screen in Russian with no English label, then English after the switch, kept over a reload", async () => {
    const page = await context.newPage();
    const english = fragments(en, ru);
    const russian = fragments(ru, en);
    for (const screen of SCREENS) {
      await open(page, hashOf(screen));
      expect(await page.getAttribute("html", "lang")).toBe("ru");
      const text = await readableText(page);
      expect({ screen, left: leftOver(text, english) }).toEqual({ screen, left: [] });
      expect(text).toMatch(/[А-Яа-яЁё]{4}/);
      await screenshot(page, `admin-${screen}-ru`);
    }
    // The resident's screen explains its codes: the consent method and the refusal's cause.
    await open(page, `audit?userId=${RESIDENT}`);
    const denied = page.locator('#audit tr[data-kind="access.denied"]').first();
    expect(await denied.textContent()).toContain("FORBIDDEN_DEVICE");
    expect(await denied.textContent()).toContain("устройство не принадлежит жителю");
    // Dates in Russian (`7 дек. 2026 г., 11:31:15`), numbers too.
    expect(await page.locator("#audit time").first().textContent()).toMatch(
      /^\d{1,2} [а-я]+\.? \d{4} г\., \d{2}:\d{2}:\d{2}$/,
    );

    // The header's switch: English at once, and still after a reload.
    await page.getByLabel("Язык").selectOption("en");
    await page.waitForFunction(() => document.documentElement.lang === "en");
    await settled(page);
    await page.reload();
    for (const screen of SCREENS) {
      await open(page, hashOf(screen));
      expect(await page.getAttribute("html", "lang")).toBe("en");
      const text = await readableText(page);
      expect({ screen, left: leftOver(text, russian) }).toEqual({ screen, left: [] });
      await screenshot(page, `admin-${screen}-en`);
    }
    expect(await page.locator("nav").textContent()).toContain("Audit trail");
    // Back to Russian for the tests after.
    await page.getByLabel("Language").selectOption("ru");
    await page.waitForFunction(() => document.documentElement.lang === "ru");
    await page.close();
  });

  test("at 1366 px and at 390 px no table overflows the page", async () => {
    const page = await context.newPage();
    for (const width of [1366, 390]) {
      await page.setViewportSize({ width, height: 900 });
      for (const screen of SCREENS) {
        await open(page, hashOf(screen));
        const { scrollWidth, innerWidth } = await pageOverflow(page);
        expect({ width, screen, overflows: scrollWidth > innerWidth }).toEqual({
          width,
          screen,
          overflows: false,
        });
        if (width === 390) await screenshot(page, `admin-${screen}-ru-390`);
      }
      // The audit table fits a laptop without scrolling inside its own box either.
      if (width === 1366) {
        await open(page, "audit");
        const box = await page.locator("#audit").evaluate((table) => ({
          table: table.scrollWidth,
          box: table.parentElement?.clientWidth ?? 0,
        }));
        expect(box.table).toBeLessThanOrEqual(box.box);
      }
    }
    await page.close();
  });
});

describe.skipIf(!available)("finding and filtering in plain words", () => {
  test("a bad audit filter shows a plain message and no rows", async () => {
    const page = await context.newPage();
    await open(page, "audit");
    expect(await page.locator("#audit tbody tr").count()).toBeGreaterThan(0);
    // "From" after "Until": a message in Russian, the rows shown before are gone.
    await page.locator("#audit-from").fill("2031-05-02T10:00");
    await page.locator("#audit-to").fill("2031-05-01T10:00");
    await page.getByRole("button", { name: "Применить" }).click();
    const alert = page.locator('#screen-audit [role="alert"]:visible');
    await alert.waitFor();
    expect(await alert.textContent()).toContain("«С» должно быть раньше «До»");
    expect(await page.locator("#audit tbody tr").count()).toBe(0);

    // A value none of the list's (an edited address): the field named, no rows.
    await page.getByRole("button", { name: "Сбросить" }).click();
    await page.locator("#audit tbody tr").first().waitFor();
    expect(await page.locator("#audit tbody tr").count()).toBeGreaterThan(0);
    await page.goto(`${stack.admin.url}/#/audit?kind=consent.bogus&result=Not%20A%20Result`);
    await alert.waitFor();
    const message = (await alert.textContent()) ?? "";
    expect(message).toContain("Этот отбор применить нельзя");
    expect(message).toContain("Вид записи: «consent.bogus» — нет среди вариантов");
    expect(message).toContain("Итог: «Not A Result» — нет среди вариантов");
    expect(message).not.toMatch(/must match|pattern|\/\^/);
    expect(await page.locator("#audit tbody tr").count()).toBe(0);

    // Outcome is a list of the results, each explained.
    const outcomes = await page
      .locator("#audit-result option")
      .evaluateAll((options) => options.map((option) => (option as HTMLOptionElement).value));
    expect(outcomes).toContain("denied");
    expect(await page.locator("#audit-result").evaluate((select) => select.tagName)).toBe("SELECT");
    await page.close();
  });

  test("an id's beginning finds the resident; a made-up id says never seen; the screen lists the recent", async () => {
    const page = await context.newPage();
    await open(page, "resident");
    await page.locator(`#resident-recent li[data-user="${RESIDENT}"]`).waitFor();

    await page.getByLabel("Идентификатор жителя или его начало").fill("i18n-res");
    await page.getByRole("button", { name: "Найти" }).click();
    const match = page.locator(`#resident-matches li[data-user="${RESIDENT}"] a`);
    await match.waitFor();
    expect(await page.locator("#resident-matches-summary").textContent()).toContain(
      "1 житель с идентификатором на «i18n-res»",
    );
    await match.click();
    await page.locator("#resident-summary", { hasText: RESIDENT }).waitFor();
    // The consent history names the method in plain words beside its code.
    await page.locator('tr[data-history-of="intercom"] summary').click();
    const granted = page.locator('tr[data-history-of="intercom"] tr[data-action="grant"]');
    expect(await granted.textContent()).toContain("in_app_checkbox");
    expect(await granted.textContent()).toContain("отметка в приложении");

    await page.getByLabel("Идентификатор жителя или его начало").fill("nobody-ever-9d2c");
    await page.getByRole("button", { name: "Найти" }).click();
    const never = page.locator("#resident-never-seen");
    await never.waitFor();
    expect(await never.textContent()).toContain("Никогда не встречался");
    expect(await page.locator("#resident-view").isHidden()).toBe(true);
    await screenshot(page, "admin-resident-never-seen-ru");
    await page.close();
  });
});
