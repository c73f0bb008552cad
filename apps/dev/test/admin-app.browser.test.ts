import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type EmbeddedStack, startEmbeddedStack } from "../src/embedded.ts";
import { chromiumAvailable, englishContext, launchChromium, signIn } from "./admin-browser.ts";

/**
 * The admin app end to end: the embedded stack in-process (its admin app on port 0, signing in
 * at the dev issuer), and Debian's Chromium (playwright-core) driving the page like an admin
 * would. Sign-in, session and CSRF themselves: admin-sign-in.browser.test.ts.
 */
const available = chromiumAvailable("admin browser test");

const RESIDENT = "resident-admin-ui";
const SCREENSHOTS = join(import.meta.dir, "screenshots");
let stack: EmbeddedStack;
let browser: Browser;
let residentToken = "";
/** One operator signed in for the whole file, and the Cookie header their browser sends. */
let operator: BrowserContext;
let cookie = "";

async function apiCall(path: string, token: string, body?: unknown) {
  const response = await fetch(`${stack.api.url}/trpc/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as {
    result: { data: { purpose: string; currentNoticeVersion: number }[] };
  };
}

async function openPage(): Promise<Page> {
  const page = await operator.newPage();
  await page.goto(stack.admin.url);
  await page.locator('#signed-in[data-user="dev-operator"]').waitFor();
  return page;
}

beforeAll(async () => {
  if (!available) return;
  stack = await startEmbeddedStack({ dataDir: null, logLevel: "silent" });
  residentToken = await stack.issuer.mint({ sub: RESIDENT, sites: ["site-a"] });
  const consents = await apiCall("consent.list", residentToken);
  const faces = consents.result.data.find((consent) => consent.purpose === "faces");
  if (!faces) throw new Error("the api lists no faces purpose");
  await apiCall("consent.grant", residentToken, {
    purpose: "faces",
    noticeVersion: faces.currentNoticeVersion,
  });
  browser = await launchChromium();
  operator = await englishContext(browser);
  const page = await operator.newPage();
  await signIn(page, stack.admin.url, stack.issuer.url, "operator");
  await page.close();
  cookie = (await operator.cookies(stack.admin.url))
    .map((entry) => `${entry.name}=${entry.value}`)
    .join("; ");
});

afterAll(async () => {
  if (!available) return;
  await browser?.close();
  await stack?.stop();
});

describe.skipIf(!available)("admin app in a browser", () => {
  test("an admin revokes a resident's consent, reads the audit trail and verifies it", async () => {
    const page = await openPage();
    await page.getByLabel("Resident user id").fill(RESIDENT);
    await page.getByRole("button", { name: "Look up" }).click();
    const faces = page.locator('#consents tr[data-purpose="faces"]');
    await faces.and(page.locator('[data-state="granted"]')).waitFor();

    await faces.getByRole("button", { name: "Revoke faces" }).click();
    await page.getByLabel(/Reason/).fill("written request from the resident");
    await page.getByRole("button", { name: "Confirm revoke" }).click();
    await faces.and(page.locator('[data-state="revoked"]')).waitFor();
    expect(await faces.getByRole("button").count()).toBe(0);
    expect(await page.locator("#confirm").isHidden()).toBe(true);

    // Revoking faces asks the intercom partner to erase them: the resident's erasure request.
    const erasure = page.locator(`#resident-erasures tr[data-user="${RESIDENT}"]`);
    await erasure.first().waitFor();
    expect(await erasure.first().getAttribute("data-status")).toMatch(/pending|done/);

    await page.getByRole("link", { name: "Audit trail of this resident" }).click();
    const revokeRow = page.locator("#audit tbody tr", { hasText: "consent.revoke" });
    await revokeRow.first().waitFor();
    expect(await revokeRow.first().textContent()).toContain("dev-operator");

    await page.getByRole("button", { name: "Verify integrity" }).click();
    await page.locator("#verify-result.ok").waitFor();
    expect(await page.locator("#verify-result").textContent()).toMatch(/^Intact: \d+ events/);
    expect(await page.locator('[role="alert"]:visible').count()).toBe(0);

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, "admin-app.png"), fullPage: true });
    await page.close();
  });

  test("the proxy ignores a bearer token from the browser: without a session it is 401", async () => {
    const response = await fetch(
      `${stack.admin.url}/trpc/admin.consents.list?input=${encodeURIComponent(JSON.stringify({ userId: RESIDENT }))}`,
      { headers: { authorization: `Bearer ${residentToken}` } },
    );
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      "SESSION_REQUIRED",
    );
  });

  test("a revoke without a reason is refused by the api through the proxy", async () => {
    const csrf = (
      (await (await fetch(`${stack.admin.url}/auth/session`, { headers: { cookie } })).json()) as {
        csrfToken: string;
      }
    ).csrfToken;
    const response = await fetch(`${stack.admin.url}/trpc/admin.consents.revoke`, {
      method: "POST",
      headers: {
        cookie,
        origin: stack.admin.url,
        "x-csrf-token": csrf,
        "content-type": "application/json",
      },
      body: JSON.stringify({ userId: RESIDENT, purpose: "plates", reason: "" }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { data: { cause: { code: string } } } };
    expect(body.error.data.cause.code).toBe("INVALID_INPUT");
  });
});

describe.skipIf(!available)("admin app proxy and headers", () => {
  test("only /trpc/admin.* is forwarded; other api paths are 404", async () => {
    for (const path of [
      "/trpc/consent.list",
      "/trpc/intercom.open",
      "/trpc/admin.consents.list,consent.list?batch=1",
      "/trpc/admin/../consent.list",
      "/health",
    ]) {
      const response = await fetch(`${stack.admin.url}${path}`, { headers: { cookie } });
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
    const ok = await fetch(
      `${stack.admin.url}/trpc/admin.consents.list?input=${encodeURIComponent(JSON.stringify({ userId: RESIDENT }))}`,
      { headers: { cookie } },
    );
    expect(ok.status).toBe(200);
  });

  test("the page is served with a strict Content-Security-Policy", async () => {
    const response = await fetch(stack.admin.url, { headers: { cookie } });
    expect(response.status).toBe(200);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
