import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AdminApp,
  createAdminApp,
  loadAdminEnv,
  type RunningAdmin,
  serveAdmin,
} from "@propgate/admin";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { type DevIssuer, generateIssuerKey, startDevIssuer } from "../src/issuer.ts";
import { CookieJar, pickAccount as pickAccountAt } from "./admin-http.ts";

/*
 * The admin app's sign-ins under way live in a sealed cookie of the browser that started them
 * (`apps/admin/src/sign-in-cookie.ts`), so anonymous requests cannot evict them. Driven with
 * fetch and a cookie per browser through the dev issuer's sign-in; the browser tests
 * (`admin-sign-in.browser.test.ts`) cover the rest of sign-in in Chromium.
 */

const CLIENT_SECRET = "admin-sign-in-test-client-secret-0123";
const SESSION_SECRET = "admin-sign-in-test-session-secret-0123456789";
const dir = mkdtempSync(join(tmpdir(), "propgate-admin-sign-in-"));
let issuer: DevIssuer;
let admin: RunningAdmin;
/** The sessions' database of the instances behind one origin below. */
let database: TestDatabase;

beforeAll(async () => {
  issuer = await startDevIssuer({
    privateJwk: await generateIssuerKey(),
    audience: "propgate-api",
  });
  writeFileSync(join(dir, "client-secret"), CLIENT_SECRET, { mode: 0o600 });
  writeFileSync(join(dir, "session-secret"), SESSION_SECRET, { mode: 0o600 });
  database = await createTestDatabase();
  // Its own sessions' database: development's embedded PGlite, in memory.
  admin = await serveAdmin(
    loadAdminEnv({
      PROPGATE_ENV: "development",
      PORT: "0",
      // Sign-in never calls the api.
      API_URL: "http://127.0.0.1:9",
      ADMIN_OIDC_ISSUER: issuer.issuer,
      ADMIN_OIDC_CLIENT_ID: "propgate-admin-sign-in",
      ADMIN_OIDC_CLIENT_SECRET_FILE: join(dir, "client-secret"),
      ADMIN_SESSION_SECRET_FILE: join(dir, "session-secret"),
    }),
    { warn: () => {} },
  );
  issuer.registerClient({
    clientId: "propgate-admin-sign-in",
    clientSecret: CLIENT_SECRET,
    redirectUris: [admin.redirectUri],
  });
});

afterAll(async () => {
  await admin?.stop();
  await issuer?.stop();
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

type Fetch = (path: string, init?: RequestInit) => Promise<Response>;
const overHttp =
  (origin: string): Fetch =>
  (path, init) =>
    fetch(`${origin}${path}`, { redirect: "manual", ...init });
const inProcess =
  (app: AdminApp, origin: string): Fetch =>
  (path, init) =>
    Promise.resolve(app.app.fetch(new Request(`${origin}${path}`, init)));

/** `/auth/login` as a browser with `jar` would open it: where it is sent at the provider. */
async function startSignIn(send: Fetch, jar: CookieJar): Promise<URL> {
  const response = await send("/auth/login", { headers: { cookie: jar.header() } });
  expect(response.status).toBe(302);
  jar.take(response);
  return new URL(response.headers.get("location") ?? "");
}

/** The dev issuer's sign-in page, `account` picked: the redirect back to the callback. */
const pickAccount = (authorize: URL, account?: string) =>
  pickAccountAt(issuer.url, authorize, account);

/** Follows the provider's redirect back to the admin app with the browser's cookies. */
async function callback(send: Fetch, jar: CookieJar, back: URL): Promise<Response> {
  const response = await send(`${back.pathname}${back.search}`, {
    headers: { cookie: jar.header() },
  });
  jar.take(response);
  return response;
}

async function signedInAs(send: Fetch, jar: CookieJar): Promise<string | null> {
  const response = await send("/auth/session", { headers: { cookie: jar.header() } });
  if (response.status !== 200) return null;
  return ((await response.json()) as { userId: string }).userId;
}

describe("sign-ins under way", () => {
  test("1,000 anonymous /auth/login requests, then the admin who started first signs in", async () => {
    const send = overHttp(admin.url);
    const browser = new CookieJar();
    const back = await pickAccount(await startSignIn(send, browser));

    for (let batch = 0; batch < 20; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => send("/auth/login", { redirect: "manual" })),
      );
      expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(302));
    }

    const done = await callback(send, browser, back);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('data-notice="signed_in"');
    expect(await signedInAs(send, browser)).toBe("dev-operator");
    // Used: the sign-in cookie is gone.
    expect(browser.get("propgate-admin-login")).toBeUndefined();
  });

  test("the cookie is sealed: no other browser, changed cookie or second use gets a session", async () => {
    const send = overHttp(admin.url);
    const browser = new CookieJar();
    const authorize = await startSignIn(send, browser);
    const sealed = browser.get("propgate-admin-login") ?? "";
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    for (const name of ["state", "nonce", "code_challenge"])
      expect(sealed).not.toContain(authorize.searchParams.get(name) ?? "-");
    const back = await pickAccount(authorize, "dev-viewer");

    const refused = async (cookie: string) => {
      const response = await send(`${back.pathname}${back.search}`, { headers: { cookie } });
      expect(response.status).toBe(400);
      expect(await response.text()).toContain('data-notice="not_recognised"');
      expect(response.headers.getSetCookie().some((line) => /propgate-admin=/.test(line))).toBe(
        false,
      );
    };
    // Another browser, with no sign-in or with its own.
    await refused("");
    const other = new CookieJar();
    await startSignIn(send, other);
    await refused(other.header());
    // The cookie changed by a byte.
    const flipped = `${sealed.slice(0, 20)}${sealed[20] === "A" ? "B" : "A"}${sealed.slice(21)}`;
    await refused(`propgate-admin-login=${flipped}`);

    // The browser that started it signs in, once; the old cookie replayed gets no second session.
    expect((await callback(send, browser, back)).status).toBe(200);
    expect(await signedInAs(send, browser)).toBe("dev-viewer");
    const replay = await send(`${back.pathname}${back.search}`, {
      headers: { cookie: `propgate-admin-login=${sealed}` },
    });
    expect(replay.status).toBe(400);
    const said = await replay.text();
    expect(said).toContain('data-notice="failed"');
    expect(said).toContain("(token endpoint said invalid_grant)");
  });

  test("instances with the same ADMIN_SESSION_SECRET_FILE finish each other's sign-ins", async () => {
    // Two instances behind one public origin, as behind a load balancer, and one with its own key.
    const origin = "https://admin.example.com";
    const instance = (secret: string | null) =>
      createAdminApp({
        apiUrl: new URL("http://127.0.0.1:9"),
        publicUrl: new URL(origin),
        oidc: {
          issuer: new URL(issuer.issuer),
          clientId: "propgate-admin-balanced",
          clientSecret: CLIENT_SECRET,
          allowInsecureRequests: true,
        },
        session: { idleSeconds: 600, maxSeconds: 3600, secret },
        database: database.db,
        secureCookies: true,
        warn: () => {},
      });
    const [first, second, own] = [
      instance(SESSION_SECRET),
      instance(SESSION_SECRET),
      instance(null),
    ];
    issuer.registerClient({
      clientId: "propgate-admin-balanced",
      clientSecret: CLIENT_SECRET,
      redirectUris: [`${origin}/auth/callback`],
    });
    try {
      const browser = new CookieJar();
      const login = await first.app.fetch(new Request(`${origin}/auth/login`));
      expect(login.headers.getSetCookie()).toEqual([
        expect.stringMatching(
          /^__Host-propgate-admin-login=v1\.[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600; Secure$/,
        ),
      ]);
      browser.take(login);
      const back = await pickAccount(new URL(login.headers.get("location") ?? ""));

      const refused = await callback(inProcess(own, origin), browser, back);
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain('data-notice="not_recognised"');

      const done = await callback(inProcess(second, origin), browser, back);
      expect(done.status).toBe(200);
      expect(await signedInAs(inProcess(second, origin), browser)).toBe("dev-operator");
    } finally {
      for (const app of [first, second, own]) app.stop();
    }
  });
});
