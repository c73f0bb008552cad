import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAdminEnv, type RunningAdmin, serveAdmin } from "@propgate/admin";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { grant, startTestStack, type TestStack } from "../src/testing/harness.ts";
import { chromiumAvailable, englishContext, launchChromium, signIn } from "./admin-browser.ts";

/**
 * The admin app's sign-in, session and security end to end: the embedded stack (its admin app
 * signs in at the dev issuer by OpenID Connect), Debian's Chromium driving it like an admin.
 */
const available = chromiumAvailable("admin sign-in browser test");
const SCREENSHOTS = join(import.meta.dir, "screenshots");
const RESIDENT = "resident-sign-in-ui";
/** Any JWT (three base64url parts, a JSON header): no token may reach the page. */
const JWT = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/;
const IDLE_SECONDS = 4;
/** The second app's access tokens last less than the idle timeout: the app must refresh them. */
const ACCESS_TOKEN_SECONDS = 2;

let stack: TestStack;
let browser: Browser;
let idleAdmin: RunningAdmin;
const secretDir = mkdtempSync(join(tmpdir(), "propgate-admin-idle-"));

beforeAll(async () => {
  if (!available) return;
  stack = await startTestStack({ logLevel: "warn" });
  const resident = await stack.resident(RESIDENT);
  await grant(resident, ["intercom", "barrier"]);
  // A second admin app with a tiny idle timeout, registered at the same dev issuer.
  const secretFile = join(secretDir, "secret");
  writeFileSync(secretFile, "idle-admin-client-secret-0123456789", { mode: 0o600 });
  // Its sessions in its own embedded PGlite (development, no DATABASE_URL).
  idleAdmin = await serveAdmin(
    loadAdminEnv({
      PROPGATE_ENV: "development",
      PORT: "0",
      API_URL: stack.api.url,
      ADMIN_OIDC_ISSUER: stack.issuer.issuer,
      ADMIN_OIDC_CLIENT_ID: "propgate-admin-idle",
      ADMIN_OIDC_CLIENT_SECRET_FILE: secretFile,
      ADMIN_SESSION_IDLE_SECONDS: String(IDLE_SECONDS),
    }),
  );
  stack.issuer.registerClient({
    clientId: "propgate-admin-idle",
    clientSecret: "idle-admin-client-secret-0123456789",
    redirectUris: [idleAdmin.redirectUri],
    accessTokenSeconds: ACCESS_TOKEN_SECONDS,
  });
  browser = await launchChromium();
});

afterAll(async () => {
  if (!available) return;
  await browser?.close();
  await idleAdmin?.stop();
  await stack?.close();
  rmSync(secretDir, { recursive: true, force: true });
});

/** A fresh browser profile signed in as `account`. */
async function signedIn(
  account: "operator" | "viewer" = "operator",
  adminUrl = stack.admin.url,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await englishContext(browser);
  const page = await context.newPage();
  await signIn(page, adminUrl, stack.issuer.url, account);
  return { context, page };
}

/** The `Cookie` header the browser would send to the admin app. */
async function cookieHeader(context: BrowserContext): Promise<string> {
  const cookies = await context.cookies(stack.admin.url);
  return cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join("; ");
}

async function csrfOf(context: BrowserContext): Promise<string> {
  const response = await fetch(`${stack.admin.url}/auth/session`, {
    headers: { cookie: await cookieHeader(context) },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { csrfToken: string }).csrfToken;
}

const revokeBody = (purpose: string) =>
  JSON.stringify({ userId: RESIDENT, purpose, reason: "test of the CSRF check" });

describe.skipIf(!available)("admin sign-in (OpenID Connect at the dev issuer)", () => {
  test("without a session a page request goes to sign-in and an api request gets 401 JSON", async () => {
    const page = await fetch(stack.admin.url, { redirect: "manual" });
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toBe("/auth/login");

    const login = await fetch(`${stack.admin.url}/auth/login`, { redirect: "manual" });
    expect(login.status).toBe(302);
    const authorize = new URL(login.headers.get("location") ?? "");
    expect(authorize.origin + authorize.pathname).toBe(`${stack.issuer.url}/oidc/authorize`);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${stack.admin.url}/auth/callback`);
    for (const name of ["state", "nonce", "code_challenge"])
      expect(authorize.searchParams.get(name)?.length ?? 0).toBeGreaterThanOrEqual(32);

    for (const [method, path] of [
      ["GET", "/trpc/admin.consents.list"],
      ["POST", "/trpc/admin.consents.revoke"],
      ["GET", "/auth/session"],
    ] as const) {
      const response = await fetch(`${stack.admin.url}${path}`, { method });
      expect({ path, status: response.status }).toEqual({ path, status: 401 });
      expect(response.headers.get("content-type")).toContain("application/json");
      const body = (await response.json()) as { error: { code: string } };
      expect(body.error.code).toBe("SESSION_REQUIRED");
    }

    const context = await englishContext(browser);
    const browserPage = await context.newPage();
    await browserPage.goto(stack.admin.url);
    expect(browserPage.url()).toStartWith(`${stack.issuer.url}/oidc/authorize?`);
    expect(await browserPage.getByRole("button", { name: "Sign in as dev operator" }).count()).toBe(
      1,
    );
    expect(await browserPage.getByRole("button", { name: "Sign in as dev viewer" }).count()).toBe(
      1,
    );
    await context.close();
  });

  test("the dev operator signs in: the page shows them, its screens work, the cookie has the flags", async () => {
    const { context, page } = await signedIn("operator");
    expect(await page.locator("#signed-in").textContent()).toBe(
      "Signed in as dev-operator operator",
    );

    // The screens, through the session: look up a resident and revoke with a reason.
    await page.getByLabel("Resident user id").fill(RESIDENT);
    await page.getByRole("button", { name: "Look up" }).click();
    const barrier = page.locator('#consents tr[data-purpose="barrier"]');
    await barrier.and(page.locator('[data-state="granted"]')).waitFor();
    await barrier.getByRole("button", { name: "Revoke barrier" }).click();
    await page.getByLabel(/Reason/).fill("the resident asked by letter");
    await page.getByRole("button", { name: "Confirm revoke" }).click();
    await barrier.and(page.locator('[data-state="revoked"]')).waitFor();
    await page.getByRole("link", { name: "Audit trail of this resident" }).click();
    const revokeRow = page.locator("#audit tbody tr", { hasText: "consent.revoke" });
    await revokeRow.first().waitFor();
    expect(await revokeRow.first().textContent()).toContain("dev-operator");
    expect(await page.locator('[role="alert"]:visible').count()).toBe(0);

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, "admin-signed-in.png"), fullPage: true });

    const cookies = await context.cookies(stack.admin.url);
    const session = cookies.find((cookie) => cookie.name === "propgate-admin");
    expect(session).toBeDefined();
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe("Strict");
    expect(session?.path).toBe("/");
    // Plain http on loopback in development: the one place `Secure` is left off (a browser would
    // not send a Secure cookie over http). Over https it is set: apps/admin/test/session.test.ts.
    expect(session?.secure).toBe(false);
    expect(session?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await context.close();
  });

  test("a dev viewer signs in and sees no revoke button", async () => {
    const { context, page } = await signedIn("viewer");
    expect(await page.locator("#signed-in").getAttribute("data-role")).toBe("viewer");
    await page.getByLabel("Resident user id").fill(RESIDENT);
    await page.getByRole("button", { name: "Look up" }).click();
    await page.locator('#consents tr[data-purpose="intercom"][data-state="granted"]').waitFor();
    expect(await page.locator("#consents button").count()).toBe(0);
    expect(await page.getByRole("button", { name: /^Revoke/ }).count()).toBe(0);
    await context.close();
  });

  test("a mutation without the CSRF token, or from another origin, is refused with 403", async () => {
    const { context, page } = await signedIn("operator");
    // From the page itself, without the header: refused. With it: the api answers.
    const without = await page.evaluate(async (body) => {
      const response = await fetch("/trpc/admin.consents.revoke", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      return { status: response.status, body: await response.json() };
    }, revokeBody("intercom"));
    expect(without.status).toBe(403);
    expect(without.body.error.code).toBe("CSRF_REJECTED");
    const wrong = await page.evaluate(async (body) => {
      const response = await fetch("/trpc/admin.consents.revoke", {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": "not-the-token" },
        body,
      });
      return response.status;
    }, revokeBody("intercom"));
    expect(wrong).toBe(403);
    const logoutWithout = await page.evaluate(async () => {
      const response = await fetch("/auth/logout", { method: "POST" });
      return response.status;
    });
    expect(logoutWithout).toBe(403);

    const csrf = await csrfOf(context);
    const cookie = await cookieHeader(context);
    for (const headers of [
      { origin: "http://evil.example" },
      { origin: stack.admin.url, "sec-fetch-site": "cross-site" },
      { origin: stack.admin.url, "sec-fetch-site": "same-site" },
      {},
    ] as Record<string, string>[]) {
      const response = await fetch(`${stack.admin.url}/trpc/admin.consents.revoke`, {
        method: "POST",
        headers: { cookie, "content-type": "application/json", "x-csrf-token": csrf, ...headers },
        body: revokeBody("intercom"),
      });
      expect({ headers, status: response.status }).toEqual({ headers, status: 403 });
    }
    // Nothing was revoked by the refused requests.
    const consents = await page.evaluate(async () => {
      const session = (await (await fetch("/auth/session")).json()) as { csrfToken: string };
      const input = encodeURIComponent(JSON.stringify({ userId: "resident-sign-in-ui" }));
      const response = await fetch(`/trpc/admin.consents.list?input=${input}`, {
        headers: { "x-csrf-token": session.csrfToken },
      });
      return (await response.json()) as { result: { data: { purpose: string; state: string }[] } };
    });
    expect(consents.result.data.find((row) => row.purpose === "intercom")?.state).toBe("granted");

    const withToken = await page.evaluate(
      async ({ body, token }) => {
        const response = await fetch("/trpc/admin.consents.revoke", {
          method: "POST",
          headers: { "content-type": "application/json", "x-csrf-token": token },
          body,
        });
        return response.status;
      },
      { body: revokeBody("intercom"), token: csrf },
    );
    expect(withToken).toBe(200);
    await context.close();
  });

  test("the page's client: the app's own refusal shows its code; an ended session goes to sign-in", async () => {
    const resident = await stack.resident("resident-sign-in-stale-page");
    await grant(resident, ["intercom"]);
    const { context, page } = await signedIn("operator");
    await page.getByLabel("Resident user id").fill(resident.userId);
    await page.getByRole("button", { name: "Look up" }).click();
    const intercom = page.locator('#consents tr[data-purpose="intercom"][data-state="granted"]');
    await intercom.waitFor();

    // Signing in again in another tab replaces the session: this page's CSRF token is stale.
    const other = await context.newPage();
    await other.goto(`${stack.admin.url}/auth/login`);
    await other.getByRole("button", { name: "Sign in as dev operator" }).click();
    await other.locator('#signed-in[data-user="dev-operator"]').waitFor();
    await intercom.getByRole("button", { name: "Revoke intercom" }).click();
    await page.getByLabel(/Reason/).fill("a page with a stale CSRF token");
    await page.getByRole("button", { name: "Confirm revoke" }).click();
    const refused = page.locator('#confirm-error[data-code="CSRF_REJECTED"]');
    await refused.waitFor();
    const text = (await refused.textContent()) ?? "";
    expect(text).toContain("a valid x-csrf-token header is required");
    expect(text).toMatch(/request id [0-9a-f-]{36}/);
    await page.getByRole("button", { name: "Cancel" }).click();

    // Signed out in the other tab: the page's next call is SESSION_REQUIRED, and it goes to sign-in.
    await other.getByRole("button", { name: "Sign out" }).click();
    await other.waitForURL(`${stack.admin.url}/auth/signed-out`);
    await page.getByRole("button", { name: "Look up" }).click();
    await page.waitForURL((url) => url.href.startsWith(`${stack.issuer.url}/oidc/authorize?`));
    await context.close();
  });

  test("no token reaches the page: DOM, script-readable cookies, storage, responses", async () => {
    const context = await englishContext(browser);
    const page = await context.newPage();
    const bodies: string[] = [];
    page.on("response", (response) => {
      if (response.url().startsWith(stack.admin.url))
        void response.text().then(
          (text) => bodies.push(text),
          () => {},
        );
    });
    await signIn(page, stack.admin.url, stack.issuer.url, "operator");
    await page.getByLabel("Resident user id").fill(RESIDENT);
    await page.getByRole("button", { name: "Look up" }).click();
    await page.locator('#consents tr[data-purpose="intercom"]').waitFor();
    const visible = await page.evaluate(() => ({
      html: document.documentElement.outerHTML,
      cookie: document.cookie,
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
      url: location.href,
    }));
    // The session cookie is HttpOnly, the login cookie too: a script sees only the language.
    expect(visible.cookie).toBe("propgate-admin-language=en");
    for (const [where, text] of Object.entries(visible))
      expect({ where, jwt: JWT.test(text) }).toEqual({ where, jwt: false });
    expect(bodies.length).toBeGreaterThan(3);
    for (const body of bodies) expect(JWT.test(body)).toBe(false);
    // The api did get a bearer token: the proxy added it on the server side.
    expect(await page.locator("#error").isHidden()).toBe(true);
    await context.close();
  });

  test("every page has a strict CSP, and an inline script is blocked", async () => {
    const response = await fetch(`${stack.admin.url}/auth/signed-out`);
    const csp = response.headers.get("content-security-policy") ?? "";
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'self'",
    ])
      expect(csp).toContain(directive);
    expect(csp).not.toContain("unsafe-inline");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");

    const { context, page } = await signedIn("operator");
    const pageResponse = await page.goto(stack.admin.url);
    expect(pageResponse?.headers()["content-security-policy"]).toBe(csp);
    const outcome = await page.evaluate(
      () =>
        new Promise<{ violated: string; ran: boolean }>((resolve) => {
          document.addEventListener("securitypolicyviolation", (event) =>
            resolve({
              violated: event.effectiveDirective,
              ran: (window as { inlineRan?: boolean }).inlineRan === true,
            }),
          );
          const script = document.createElement("script");
          script.textContent = "window.inlineRan = true;";
          document.body.append(script);
        }),
    );
    expect(outcome).toEqual({ violated: "script-src-elem", ran: false });
    await context.close();
  });

  test("signing out ends the session, here and for the old cookie", async () => {
    const { context, page } = await signedIn("operator");
    const cookie = await cookieHeader(context);
    await page.getByRole("button", { name: "Sign out" }).click();
    // RP-initiated logout: through the dev issuer's end-session endpoint and back.
    await page.waitForURL(`${stack.admin.url}/auth/signed-out`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Signed out");
    expect((await context.cookies(stack.admin.url)).some((c) => c.name === "propgate-admin")).toBe(
      false,
    );
    const replayed = await fetch(`${stack.admin.url}/auth/session`, { headers: { cookie } });
    expect(replayed.status).toBe(401);
    await page.goto(stack.admin.url);
    expect(page.url()).toStartWith(`${stack.issuer.url}/oidc/authorize?`);
    await context.close();
  });

  test("an expired access token is refreshed; an idle session expires", async () => {
    const { context, page } = await signedIn("operator", idleAdmin.url);
    const cookies = await context.cookies(idleAdmin.url);
    const cookie = cookies.map((c) => `${c.name}=${c.value}`).join("; ");
    expect((await fetch(`${idleAdmin.url}/auth/session`, { headers: { cookie } })).status).toBe(
      200,
    );
    // Past the first access token's expiry, within the idle timeout. A token that close to its
    // expiry (the app's margin is 30 s) is refreshed before every call; a failed refresh would
    // end the session (401).
    await Bun.sleep(ACCESS_TOKEN_SECONDS * 1000 + 500);
    const statuses = await page.evaluate(async (userId) => {
      const input = encodeURIComponent(JSON.stringify({ userId }));
      const seen: number[] = [];
      for (let i = 0; i < 3; i++)
        seen.push((await fetch(`/trpc/admin.consents.list?input=${input}`)).status);
      return seen;
    }, RESIDENT);
    expect(statuses).toEqual([200, 200, 200]);

    await Bun.sleep(IDLE_SECONDS * 1000 + 500);
    expect((await fetch(`${idleAdmin.url}/auth/session`, { headers: { cookie } })).status).toBe(
      401,
    );
    await page.goto(idleAdmin.url);
    expect(page.url()).toStartWith(`${stack.issuer.url}/oidc/authorize?`);
    await context.close();
  });
});
