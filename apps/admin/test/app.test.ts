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
