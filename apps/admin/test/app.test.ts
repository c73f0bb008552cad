import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type DatabaseHandle, openDatabase } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { type AdminApp, createAdminApp } from "../src/app.ts";
import { randomToken } from "../src/session.ts";

/*
 * The app's probes and what an admin sees while the sessions' database is away. Sign-in and the
 * rest run against the dev issuer in apps/dev/test (admin-sign-in, admin-replicas).
 */

let database: TestDatabase;
/** A PostgreSQL that refuses every connection: nothing listens on port 1. */
let away: DatabaseHandle;
const apps: AdminApp[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  away = await openDatabase({ url: "postgres://propgate@127.0.0.1:1/propgate", max: 1 });
});

afterAll(async () => {
  for (const app of apps) app.stop();
  await away?.close();
  await database?.close();
});

function adminApp(db: DatabaseHandle): AdminApp {
  const app = createAdminApp({
    apiUrl: new URL("http://127.0.0.1:9"),
    publicUrl: new URL("http://127.0.0.1:8790"),
    oidc: {
      issuer: new URL("http://127.0.0.1:9"),
      clientId: "propgate-admin",
      clientSecret: "unused",
      allowInsecureRequests: true,
    },
    session: {
      idleSeconds: 60,
      maxSeconds: 600,
      secret: "a-session-secret-of-well-over-32-characters",
    },
    database: db.db,
    secureCookies: false,
    warn: () => {},
  });
  apps.push(app);
  return app;
}

const get = (app: AdminApp, path: string, cookie = `propgate-admin=${randomToken()}`) =>
  app.app.request(`http://127.0.0.1:8790${path}`, { headers: { cookie } });

describe("probes and an unreachable sessions' database", () => {
  test("/healthz is up; /readyz says ready while the sessions' table answers", async () => {
    const app = adminApp(database);
    expect(await (await get(app, "/healthz")).json()).toEqual({ status: "ok" });
    const ready = await get(app, "/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });

  test("without the database: /readyz 503, requests 503 UNAVAILABLE with Retry-After", async () => {
    const app = adminApp(away);
    expect((await get(app, "/healthz")).status).toBe(200);
    const ready = await get(app, "/readyz");
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "not_ready", reason: "database unreachable" });
    for (const path of ["/auth/session", "/trpc/admin.me", "/"]) {
      const response = await get(app, path);
      expect({ path, status: response.status }).toEqual({ path, status: 503 });
      expect(response.headers.get("retry-after")).toBe("2");
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("UNAVAILABLE");
      expect(body.error.message).not.toContain("127.0.0.1");
    }
    // No cookie, or not one of ours: nothing to look up, so no database needed to say so.
    expect((await get(app, "/auth/session", "propgate-admin=junk")).status).toBe(401);
  });
});

describe("the server's own pages speak the page's language", () => {
  test("signed out: Russian by default, English with the page's language cookie", async () => {
    const app = adminApp(database);
    const russian = await get(app, "/auth/signed-out", "");
    const text = await russian.text();
    expect(text).toContain('<html lang="ru">');
    expect(text).toContain("<h1>Вы вышли</h1>");
    expect(text).toContain('data-notice="signed_out"');
    const english = await (await get(app, "/auth/signed-out", "propgate-admin-language=en")).text();
    expect(english).toContain('<html lang="en">');
    expect(english).toContain("<h1>Signed out</h1>");
    // Anything else is the default, never echoed.
    const other = await (await get(app, "/auth/signed-out", "propgate-admin-language=<x>")).text();
    expect(other).toContain('<html lang="ru">');
    expect(other).not.toContain("<x>");
  });

  test("a sign-in not started in this browser says so in Russian", async () => {
    const app = adminApp(database);
    const response = await get(app, "/auth/callback?state=s&code=c", "");
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text).toContain('data-notice="not_recognised"');
    expect(text).toContain("<h1>Вход не распознан</h1>");
  });
});
