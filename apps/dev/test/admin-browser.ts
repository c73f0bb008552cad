import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";

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
