import { existsSync } from "node:fs";
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from "playwright-core";

/** Debian's Chromium for the admin app's browser tests, and signing in through the dev issuer. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is there; without it the test file is skipped with a printed reason, except in CI. */
export function chromiumAvailable(what: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI)
    throw new Error(`${CHROMIUM} is missing in CI: run scripts/install-system-tools.sh`);
  console.warn(
    `[skip] ${what}: ${CHROMIUM} is not installed (scripts/install-system-tools.sh installs it)`,
  );
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Where the admin page keeps the admin's language (apps/admin/src/page/i18n/i18n.ts). */
export const LANGUAGE_KEY = "propgate-admin-language";

/**
 * A browser context whose admin pages are in English (the page's default is Russian): the tests
 * that find elements by their English names. The i18n browser test switches as an admin does.
 */
export async function englishContext(
  browser: Browser,
  options: BrowserContextOptions = {},
): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  // The page's storage, and the cookie by which the server's own pages (signed out) know it.
  await context.addInitScript((key) => {
    try {
      window.localStorage.setItem(key, "en");
      // biome-ignore lint/suspicious/noDocumentCookie: as the page itself sets it (i18n.ts).
      document.cookie = `${key}=en; Path=/`;
    } catch {
      // about:blank has neither.
    }
  }, LANGUAGE_KEY);
  return context;
}

export const ACCOUNTS = { operator: "dev operator", viewer: "dev viewer" } as const;

/**
 * Opens the admin app with no session, which sends the browser to the dev issuer's sign-in page;
 * picks the account there and waits for the admin page to show who is signed in.
 */
export async function signIn(
  page: Page,
  adminUrl: string,
  issuerUrl: string,
  account: keyof typeof ACCOUNTS = "operator",
): Promise<void> {
  await page.goto(adminUrl);
  if (!page.url().startsWith(`${issuerUrl}/oidc/authorize`))
    throw new Error(`expected the dev issuer's sign-in page, got ${page.url()}`);
  await page.getByRole("button", { name: `Sign in as ${ACCOUNTS[account]}` }).click();
  await page.waitForURL(`${adminUrl}/`);
  await page.locator(`#signed-in[data-user="dev-${account}"]`).waitFor();
}
