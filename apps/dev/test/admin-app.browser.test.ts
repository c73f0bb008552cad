import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { type RunningAdmin, serveAdmin } from "@propgate/admin";
import { type Browser, chromium, type Page } from "playwright-core";
import { type EmbeddedStack, startEmbeddedStack } from "../src/embedded.ts";

/**
 * The admin app end to end: the api's embedded stack in-process, the admin app on port 0 in
 * front of it, and Debian's Chromium (playwright-core) driving the page like an admin would.
 */
const CHROMIUM = "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
if (!available) {
  if (process.env.CI === "true")
    throw new Error(`${CHROMIUM} is missing in CI: run scripts/install-system-tools.sh`);
  console.warn(`[skip] admin browser test: ${CHROMIUM} is not installed`);
}

const RESIDENT = "resident-admin-ui";
let stack: EmbeddedStack;
let admin: RunningAdmin;
let browser: Browser;
let adminToken = "";
let residentToken = "";

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

async function openPage(token: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(admin.url);
  await page.getByLabel("Admin bearer token").fill(token);
  return page;
}

beforeAll(async () => {
  if (!available) return;
  stack = await startEmbeddedStack({ dataDir: null, logLevel: "silent" });
  adminToken = await stack.issuer.mint({ sub: "admin-1", sites: [], admin: true });
  residentToken = await stack.issuer.mint({ sub: RESIDENT, sites: ["site-a"] });
  const consents = await apiCall("consent.list", residentToken);
  const faces = consents.result.data.find((consent) => consent.purpose === "faces");
  if (!faces) throw new Error("the api lists no faces purpose");
  await apiCall("consent.grant", residentToken, {
    purpose: "faces",
    noticeVersion: faces.currentNoticeVersion,
  });
  admin = serveAdmin({ apiUrl: new URL(stack.api.url), hostname: "127.0.0.1", port: 0 });
  browser = await chromium.launch({
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
});

afterAll(async () => {
  if (!available) return;
  await browser?.close();
  await admin?.stop();
  await stack?.stop();
});

describe.skipIf(!available)("admin app in a browser", () => {
  test("an admin revokes a resident's consent, reads the audit trail and verifies it", async () => {
    const page = await openPage(adminToken);
    await page.getByLabel("Resident user id").fill(RESIDENT);
    await page.getByRole("button", { name: "Look up" }).click();
    const faces = page.locator('#consents tr[data-purpose="faces"]');
    await faces.filter({ hasText: "granted" }).waitFor();

    await faces.getByRole("button", { name: "Revoke faces" }).click();
    await page.getByLabel(/Reason/).fill("written request from the resident");
    await page.getByRole("button", { name: "Confirm revoke" }).click();
    await faces.filter({ hasText: "revoked" }).waitFor();
    expect(await faces.getByRole("button").count()).toBe(0);
    expect(await page.locator("#revoke-form").isHidden()).toBe(true);

    const revokeRow = page.locator("#audit tbody tr", { hasText: "consent.revoke" });
    await revokeRow.first().waitFor();
    expect(await revokeRow.first().textContent()).toContain("admin-1");

    await page.getByRole("button", { name: "Verify chain" }).click();
    await page.locator("#verify-result.ok").waitFor();
    expect(await page.locator("#verify-result").textContent()).toMatch(/^Chain ok: \d+ events/);

    const erasure = page.locator(`#erasures tr[data-user="${RESIDENT}"]`);
    await erasure.first().waitFor();
    expect(await erasure.first().textContent()).toMatch(/pending|done/);
    expect(await page.locator("#error").isHidden()).toBe(true);

    // The token lives in this tab's session storage, never in the URL.
    expect(page.url()).not.toContain(adminToken);
    expect(await page.evaluate(() => sessionStorage.getItem("propgate.admin.token"))).toBe(
      adminToken,
    );
    await page.screenshot({ path: "/tmp/admin-app.png", fullPage: true });
    await page.close();
  });

  test("a resident token shows the api's FORBIDDEN error in the page", async () => {
    const page = await openPage(residentToken);
    await page.getByLabel("Resident user id").fill(RESIDENT);
    await page.getByRole("button", { name: "Look up" }).click();
    const error = page.getByRole("alert");
    await error.filter({ hasText: "FORBIDDEN" }).waitFor();
    expect(await error.textContent()).toMatch(/^FORBIDDEN: an admin role is required \(request /);
    await page.close();
  });

  test("a revoke without a reason is refused by the api through the proxy", async () => {
    const response = await fetch(`${admin.url}/trpc/admin.consents.revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
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
      const response = await fetch(`${admin.url}${path}`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
    const ok = await fetch(
      `${admin.url}/trpc/admin.consents.list?input=${encodeURIComponent(JSON.stringify({ userId: RESIDENT }))}`,
      { headers: { authorization: `Bearer ${adminToken}` } },
    );
    expect(ok.status).toBe(200);
  });

  test("the page is served with a strict Content-Security-Policy", async () => {
    const response = await fetch(admin.url);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
