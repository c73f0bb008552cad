import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sessionIdHash } from "@propgate/admin";
import { openDatabase } from "@propgate/consent-audit";
import { adminSessions } from "@propgate/consent-audit/schema";
import { applyRolesSql } from "@propgate/consent-audit/testing";
import { eq, sql } from "drizzle-orm";
import { startTestStack, type TestStack } from "../src/testing/harness.ts";
import { type Child, spawnChild } from "../src/testing/processes.ts";
import { CookieJar, pickAccount } from "./admin-http.ts";

/**
 * The admin app as deployed: replicas are processes of `apps/admin/src/main.ts` behind one public
 * origin (a small balancer here that sends each request to the replica the test names), logging
 * in to PostgreSQL as `propgate_admin_app` of infra/postgres/roles.sql, sharing
 * ADMIN_SESSION_SECRET_FILE. Nothing of a session lives in a process: one made through replica A
 * works through B and after both restart, and a sign-out through B ends it on A. The dev issuer
 * plays the provider, rotating refresh tokens, and tells the test every token it issues.
 */
const ADMIN_MAIN = `${import.meta.dir}/../../admin/src/main.ts`;
const CLIENT_ID = "propgate-admin-replicas";
const CLIENT_SECRET = "admin-replicas-client-secret-0123456789";
const SESSION_SECRET = "admin-replicas-session-secret-0123456789abcdef";
const OTHER_SECRET = "another-deployment-session-secret-0123456789";
const ROLE_PASSWORD = crypto.randomUUID();
/** Any JWT (three base64url parts, a JSON header). */
const JWT = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/;

// Replicas are processes started and stopped on a machine shared with other runs.
setDefaultTimeout(60_000);

const missing =
  process.env.DATABASE_URL === undefined
    ? "needs PostgreSQL (set DATABASE_URL): replicas are processes, and PGlite is one process's"
    : Bun.which("psql") === null
      ? "psql is not installed (scripts/install-system-tools.sh installs postgresql-client)"
      : null;
if (missing && process.env.CI)
  throw new Error(`the admin replicas test must run in CI: ${missing}`);
if (missing) console.warn(`[skip] admin replicas: ${missing}`);

const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
const ROLES = {
  owner_role: `propgate_t_${suffix}_owner`,
  api_role: `propgate_t_${suffix}_api`,
  admin_role: `propgate_t_${suffix}_admin`,
  readonly_role: `propgate_t_${suffix}_ro`,
  admin_app_role: `propgate_t_${suffix}_adminapp`,
};

const dir = mkdtempSync(join(tmpdir(), "propgate-admin-replicas-"));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

let stack: TestStack;
/** Every token the provider issued to the replicas' client. */
const issued: string[] = [];
const replicas = new Map<string, { child: Child; url: string }>();
/** The public origin: a load balancer that sends each request to the replica it names. */
let balancer: ReturnType<typeof Bun.serve>;
let origin = "";
const REPLICA_HEADER = "x-test-replica";

/** Starts replica `name` (a process), with `secret` as ADMIN_SESSION_SECRET_FILE's content. */
async function startReplica(name: string, secret = SESSION_SECRET): Promise<void> {
  const url = new URL(stack.testDatabase.url ?? "");
  url.username = ROLES.admin_app_role;
  url.password = "";
  const child = spawnChild([process.execPath, ADMIN_MAIN], {
    PATH: process.env.PATH ?? "",
    PROPGATE_ENV: "development",
    HOST: "127.0.0.1",
    PORT: "0",
    API_URL: stack.api.url,
    ADMIN_URL: origin,
    ADMIN_OIDC_ISSUER: stack.issuer.issuer,
    ADMIN_OIDC_CLIENT_ID: CLIENT_ID,
    ADMIN_OIDC_CLIENT_SECRET_FILE: file("client-secret", CLIENT_SECRET),
    ADMIN_SESSION_SECRET_FILE: file(`session-secret-${name}`, secret),
    DATABASE_URL: url.toString(),
    DATABASE_PASSWORD_FILE: file("database-password", ROLE_PASSWORD),
  });
  const [, listening] = await child.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  replicas.set(name, { child, url: listening ?? "" });
}

async function stopReplica(name: string): Promise<void> {
  const replica = replicas.get(name);
  replicas.delete(name);
  expect(await replica?.child.stop()).toBe(0);
}

/** A request to the public origin, served by replica `name`. */
function through(name: string, jar: CookieJar, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("cookie", jar.header());
  headers.set(REPLICA_HEADER, name);
  return fetch(`${origin}${path}`, { redirect: "manual", ...init, headers }).then((response) => {
    jar.take(response);
    return response;
  });
}

/** Signs in at replica `start` and comes back from the provider to replica `finish`. */
async function signIn(
  start: string,
  finish: string,
  account: "dev-operator" | "dev-viewer",
): Promise<CookieJar> {
  const jar = new CookieJar();
  const login = await through(start, jar, "/auth/login");
  expect(login.status).toBe(302);
  const back = await pickAccount(
    stack.issuer.url,
    new URL(login.headers.get("location") ?? ""),
    account,
  );
  const done = await through(finish, jar, `${back.pathname}${back.search}`);
  expect(done.status).toBe(200);
  expect(await done.text()).toContain('data-notice="signed_in"');
  return jar;
}

async function session(
  name: string,
  jar: CookieJar,
): Promise<{ status: number; userId: string | null; csrfToken: string | null }> {
  const response = await through(name, jar, "/auth/session");
  if (response.status !== 200) return { status: response.status, userId: null, csrfToken: null };
  const body = (await response.json()) as { userId: string; csrfToken: string };
  return { status: 200, userId: body.userId, csrfToken: body.csrfToken };
}

/** `admin.me` through replica `name`: the api answers with the access token the replica holds. */
async function me(name: string, jar: CookieJar) {
  const response = await through(name, jar, "/trpc/admin.me");
  const body = (await response.json()) as { result?: { data: unknown } };
  return { status: response.status, me: body.result?.data ?? null };
}

/** Every session row, read as the database's superuser would (or anyone who stole a backup). */
async function sessionRows() {
  return stack.testDatabase.db.select().from(adminSessions);
}

const idOf = (jar: CookieJar) => jar.get("propgate-admin") ?? "";

describe.skipIf(missing !== null)("admin app replicas (processes, PostgreSQL)", () => {
  let operator: CookieJar;
  let viewer: CookieJar;

  beforeAll(async () => {
    stack = await startTestStack({ logLevel: "warn" });
    // The roles of infra/postgres/roles.sql; the replicas log in as the admin app's.
    const applied = await applyRolesSql(stack.testDatabase.url ?? "", ROLES);
    if (applied.code !== 0) throw new Error(`roles.sql failed: ${applied.output}`);
    await stack.testDatabase.db.execute(
      sql.raw(`alter role "${ROLES.admin_app_role}" password '${ROLE_PASSWORD}'`),
    );
    balancer = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const url = new URL(request.url);
        const replica = replicas.get(request.headers.get(REPLICA_HEADER) ?? "");
        if (!replica) return new Response("no such replica", { status: 502 });
        const headers = new Headers(request.headers);
        headers.delete(REPLICA_HEADER);
        return fetch(`${replica.url}${url.pathname}${url.search}`, {
          method: request.method,
          headers,
          body: request.body,
          redirect: "manual",
        });
      },
    });
    origin = balancer.url.origin;
    stack.issuer.registerClient({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [`${origin}/auth/callback`],
      postLogoutRedirectUris: [`${origin}/auth/signed-out`],
      // Shorter than the app's refresh margin: every proxied call renews the token first.
      accessTokenSeconds: 5,
      rotateRefreshTokens: true,
      onTokens: (tokens) => {
        for (const token of Object.values(tokens)) if (token) issued.push(token);
      },
    });
    await Promise.all([startReplica("A"), startReplica("B")]);
  });

  afterAll(async () => {
    for (const name of [...replicas.keys()]) await replicas.get(name)?.child.stop();
    balancer?.stop(true);
    await stack?.close();
    // Roles are cluster-wide: dropped once their database (and every grant in it) is gone.
    const server = await openDatabase({ url: process.env.DATABASE_URL ?? "", max: 1 });
    try {
      for (const role of Object.values(ROLES))
        await server.db.execute(sql.raw(`drop role if exists "${role}"`));
    } finally {
      await server.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("an admin signed in through replica A works through replica B", async () => {
    operator = await signIn("A", "A", "dev-operator");
    const onA = await session("A", operator);
    expect(onA).toMatchObject({ status: 200, userId: "dev-operator" });
    expect(await session("B", operator)).toEqual(onA);
    expect(await me("B", operator)).toEqual({
      status: 200,
      me: { userId: "dev-operator", role: "operator" },
    });
    // A mutation through B passes B's CSRF check with the token A handed out: the api answers.
    const lift = await through("B", operator, "/trpc/admin.blocks.lift", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        origin,
        "x-csrf-token": onA.csrfToken ?? "",
      },
      body: JSON.stringify({ blockId: `blk_${"0".repeat(20)}`, reason: "replica test" }),
    });
    expect(lift.status).toBe(404);
    expect(JSON.stringify(await lift.json())).toContain("NOT_FOUND");
  });

  test("a sign-in started on one replica finishes on the other", async () => {
    viewer = await signIn("B", "A", "dev-viewer");
    expect(await session("B", viewer)).toMatchObject({ status: 200, userId: "dev-viewer" });
    expect((await me("A", viewer)).me).toEqual({ userId: "dev-viewer", role: "viewer" });
  });

  test("the database holds no token and no session id in clear", async () => {
    const rows = await sessionRows();
    expect(rows.length).toBe(2);
    const text = JSON.stringify(rows);
    expect(text).not.toMatch(JWT);
    expect(issued.length).toBeGreaterThanOrEqual(6); // access, refresh and ID tokens, renewals
    for (const token of issued) expect(text).not.toContain(token);
    const id = idOf(operator);
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(text).not.toContain(id);
    expect(text).not.toContain((await session("A", operator)).csrfToken ?? "-");
    const row = rows.find((candidate) => candidate.userId === "dev-operator");
    expect(row?.idHash).toBe(sessionIdHash(id));
    expect(row?.sealed).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
  });

  test("renewals on both replicas at once take each rotated refresh token once", async () => {
    const before = issued.length;
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => me(i % 2 === 0 ? "A" : "B", operator)),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(200));
    // Each renewal used the newest refresh token (a used one is refused by this provider).
    expect(issued.length).toBeGreaterThan(before);
    expect((await session("B", operator)).status).toBe(200);
  });

  test("a changed row, a row moved under another id or sealed with another key is refused", async () => {
    const rows = await sessionRows();
    const mine = rows.find((row) => row.userId === "dev-operator");
    const viewers = rows.find((row) => row.userId === "dev-viewer");
    const sealed = mine?.sealed ?? "";
    const setSealed = (idHash: string, value: string) =>
      stack.testDatabase.db
        .update(adminSessions)
        .set({ sealed: value })
        .where(eq(adminSessions.idHash, idHash));

    // A byte changed by someone who can write the table: no session, on either replica.
    const at = Math.floor(sealed.length / 2);
    await setSealed(
      mine?.idHash ?? "",
      `${sealed.slice(0, at)}${sealed[at] === "A" ? "B" : "A"}${sealed.slice(at + 1)}`,
    );
    expect((await session("A", operator)).status).toBe(401);
    expect((await session("B", operator)).status).toBe(401);
    // The operator's sealed tokens put under the viewer's id: the viewer's cookie gets no session,
    // the operator's least of all.
    const viewerSealed = viewers?.sealed ?? "";
    await setSealed(viewers?.idHash ?? "", sealed);
    expect((await session("A", viewer)).status).toBe(401);
    expect(await me("B", viewer)).toMatchObject({ status: 401 });
    // Put back: both sessions open again.
    await setSealed(viewers?.idHash ?? "", viewerSealed);
    await setSealed(mine?.idHash ?? "", sealed);
    expect((await session("A", operator)).status).toBe(200);
    expect((await session("B", viewer)).status).toBe(200);

    // A replica of another deployment (another secret) opens none of them, and says why.
    await startReplica("C", OTHER_SECRET);
    expect((await session("C", operator)).status).toBe(401);
    expect(await me("C", operator)).toMatchObject({ status: 401 });
    const replicaC = replicas.get("C");
    await replicaC?.child.waitFor(/admin session refused: .*ADMIN_SESSION_SECRET_FILE differs/);
    await stopReplica("C");
    expect((await session("B", operator)).status).toBe(200);
  });

  test("after both replicas restart the admin is still signed in", async () => {
    const { csrfToken } = await session("A", operator);
    await stopReplica("A");
    await stopReplica("B");
    await Promise.all([startReplica("A"), startReplica("B")]);
    expect(await session("B", operator)).toEqual({
      status: 200,
      userId: "dev-operator",
      csrfToken,
    });
    expect((await me("A", operator)).me).toEqual({ userId: "dev-operator", role: "operator" });
  });

  test("signing out through replica B ends the session on replica A", async () => {
    const { csrfToken } = await session("A", operator);
    const stale = operator.copy();
    const out = await through("B", operator, "/auth/logout", {
      method: "POST",
      headers: { origin, "x-csrf-token": csrfToken ?? "" },
    });
    expect(out.status).toBe(200);
    expect(((await out.json()) as { location: string }).location).toStartWith(
      `${stack.issuer.url}/oidc/logout`,
    );
    expect(idOf(operator)).toBe("");
    // The old cookie, replayed on A: over, for pages, the api proxy and the session alike.
    expect(await session("A", stale)).toMatchObject({ status: 401 });
    expect(await me("A", stale)).toMatchObject({ status: 401 });
    const page = await through("A", stale, "/");
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toBe("/auth/login");
    expect((await sessionRows()).map((row) => row.userId)).toEqual(["dev-viewer"]);
  });
});
