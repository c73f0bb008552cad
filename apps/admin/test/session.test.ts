import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type DatabaseHandle, openDatabase } from "@propgate/consent-audit";
import { adminSessions } from "@propgate/consent-audit/schema";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { eq } from "drizzle-orm";
import {
  cookieHeader,
  createSessionStore,
  type NewSession,
  type RenewedTokens,
  type SessionStore,
  sameSecret,
  sessionIdHash,
} from "../src/session.ts";

const SECRET = "a-session-secret-of-well-over-32-characters";
const ACCESS = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbi0xIn0.access-token-signature";
const REFRESH = "refresh-token-of-the-provider-0123456789";
const ID_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJub25jZSI6Im4ifQ.id-token-signature";

const signedIn: NewSession = {
  userId: "admin-1",
  roles: ["propgate:operator"],
  accessToken: ACCESS,
  accessTokenExpiresAt: 0,
  refreshToken: REFRESH,
  idToken: ID_TOKEN,
};

let database: TestDatabase;
/** A second connection pool on the same database, as another replica has (PostgreSQL only). */
let replicaDatabase: DatabaseHandle;
const stores: SessionStore[] = [];
const warnings: string[] = [];
let now = 1_000_000;

beforeAll(async () => {
  database = await createTestDatabase();
  replicaDatabase = database.url ? await openDatabase({ url: database.url, max: 3 }) : database;
});

afterAll(async () => {
  for (const store of stores) store.stop();
  if (replicaDatabase !== database) await replicaDatabase.close();
  await database?.close();
});

/** A replica's store: same table, its own secret (the shared one by default) and pool. */
function store(options: { secret?: string | Uint8Array; replica?: boolean } = {}): SessionStore {
  const sessions = createSessionStore({
    db: options.replica ? replicaDatabase.db : database.db,
    secret: options.secret ?? SECRET,
    idleMs: 30_000,
    absoluteMs: 120_000,
    now: () => now,
    warn: (line) => warnings.push(line),
  });
  stores.push(sessions);
  return sessions;
}

async function rowOf(id: string) {
  const [row] = await database.db
    .select()
    .from(adminSessions)
    .where(eq(adminSessions.idHash, sessionIdHash(id)));
  return row;
}

describe("session cookie", () => {
  test("over https: __Host- prefix, Secure, HttpOnly, SameSite=Strict, Path=/", () => {
    const header = cookieHeader("propgate-admin", "abc", {
      secure: true,
      sameSite: "Strict",
      maxAge: 28_800,
    });
    expect(header).toBe(
      "__Host-propgate-admin=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800; Secure",
    );
  });

  test("plain http on loopback (development): the same without Secure and its prefix", () => {
    const header = cookieHeader("propgate-admin", "abc", {
      secure: false,
      sameSite: "Strict",
      maxAge: 60,
    });
    expect(header).toBe("propgate-admin=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60");
    expect(header).not.toContain("Secure");
  });

  test("a deleted cookie has Max-Age=0", () => {
    expect(cookieHeader("x", "", { secure: true, sameSite: "Strict", maxAge: 0 })).toContain(
      "Max-Age=0",
    );
  });
});

describe("session store (admin_sessions)", () => {
  test("every session has its own random id and CSRF token; the row holds neither, nor a token", async () => {
    const sessions = store();
    const a = await sessions.create(signedIn);
    const b = await sessions.create(signedIn);
    expect(a.id).not.toBe(b.id);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.session.csrfToken).not.toBe(b.session.csrfToken);
    expect(a.session.csrfToken).not.toBe(a.id);
    const row = await rowOf(a.id);
    expect(row?.idHash).toMatch(/^[0-9a-f]{64}$/);
    expect(row?.userId).toBe("admin-1");
    const stored = JSON.stringify(row);
    for (const secret of [a.id, a.session.csrfToken, ACCESS, REFRESH, ID_TOKEN, "eyJ"])
      expect(stored).not.toContain(secret);
    // Another replica with the same secret serves it.
    expect((await store({ replica: true }).touch(a.id))?.accessToken).toBe(ACCESS);
  });

  test("idle timeout: unused past it the session is gone; use on any replica restarts the timer", async () => {
    const [first, second] = [store(), store({ replica: true })];
    const { id } = await first.create(signedIn);
    now += 29_000;
    expect(await second.touch(id)).not.toBeNull();
    now += 29_000;
    expect(await first.touch(id)).not.toBeNull();
    now += 30_000;
    expect(await second.touch(id)).toBeNull();
    expect(await first.sweep()).toBeGreaterThanOrEqual(1);
    expect(await rowOf(id)).toBeUndefined();
  });

  test("absolute timeout: a busy session ends too, and is swept", async () => {
    const sessions = store();
    const createdAt = now;
    const { id, session } = await sessions.create(signedIn);
    expect(sessions.endsAt(session)).toBe(createdAt + 30_000);
    let touched = session;
    for (let i = 0; i < 5; i++) {
      now += 20_000;
      touched = (await sessions.touch(id)) ?? expect.unreachable();
    }
    expect(sessions.endsAt(touched)).toBe(createdAt + 120_000);
    now += 20_000;
    expect(await sessions.touch(id)).toBeNull();
    expect(await rowOf(id)).toBeDefined();
    await sessions.sweep();
    expect(await rowOf(id)).toBeUndefined();
  });

  test("delete ends it on every replica; unknown, malformed and missing ids find nothing", async () => {
    const [first, second] = [store(), store({ replica: true })];
    const { id } = await first.create(signedIn);
    expect((await second.delete(id))?.userId).toBe("admin-1");
    expect(await first.touch(id)).toBeNull();
    expect(await first.touch("nope")).toBeNull();
    expect(await first.touch(sessionIdHash(id))).toBeNull();
    expect(await first.touch(undefined)).toBeNull();
  });

  test("a changed row, a row moved under another id or sealed with another key does not open", async () => {
    const sessions = store();
    const victim = await sessions.create({ ...signedIn, userId: "admin-victim" });
    const attacker = await sessions.create({ ...signedIn, userId: "admin-attacker" });
    const victimRow = await rowOf(victim.id);
    const setRow = (id: string, fields: Partial<typeof adminSessions.$inferInsert>) =>
      database.db
        .update(adminSessions)
        .set(fields)
        .where(eq(adminSessions.idHash, sessionIdHash(id)));
    warnings.length = 0;

    // The victim's sealed tokens copied under the attacker's own id (and user id): refused.
    await setRow(attacker.id, { sealed: victimRow?.sealed, userId: "admin-victim" });
    expect(await sessions.touch(attacker.id)).toBeNull();
    // One byte of the seal changed: refused.
    const sealed = victimRow?.sealed ?? "";
    const at = sealed.length - 5;
    await setRow(victim.id, {
      sealed: `${sealed.slice(0, at)}${sealed[at] === "A" ? "B" : "A"}${sealed.slice(at + 1)}`,
    });
    expect(await sessions.touch(victim.id)).toBeNull();
    // The seal intact but its clear user id changed: refused.
    await setRow(victim.id, { sealed, userId: "admin-attacker" });
    expect(await sessions.touch(victim.id)).toBeNull();
    await setRow(victim.id, { userId: "admin-victim" });
    expect((await sessions.touch(victim.id))?.userId).toBe("admin-victim");
    // A replica with another secret, or a per-process one, opens nothing of it.
    expect(await store({ secret: `${SECRET}-other` }).touch(victim.id)).toBeNull();
    expect(await store({ secret: new Uint8Array(32) }).touch(victim.id)).toBeNull();
    expect(warnings.length).toBeGreaterThanOrEqual(4);
    for (const line of warnings) expect(line).toContain("ADMIN_SESSION_SECRET_FILE");
    // The absolute timeout counts from the sealed sign-in time, not the row's.
    await setRow(victim.id, { createdAt: new Date(now + 3_600_000) });
    now += 120_000;
    await setRow(victim.id, { lastSeenAt: new Date(now) });
    expect(await sessions.touch(victim.id)).toBeNull();
  });

  test("renewal: one replica at a time, and the one that waited finds the new tokens", async () => {
    const [first, second] = [store(), store({ replica: true })];
    const { id } = await first.create(signedIn);
    let renewals = 0;
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered = () => {};
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const renewal =
      (wait: boolean) => async (stored: { accessToken: string; refreshToken: string | null }) => {
        if (stored.accessToken !== ACCESS) return null; // renewed meanwhile
        renewals++;
        if (wait) {
          entered();
          await gate;
        }
        expect(stored.refreshToken).toBe(REFRESH);
        return {
          accessToken: "renewed-access-token",
          accessTokenExpiresAt: now + 300_000,
          refreshToken: "rotated-refresh-token",
        } satisfies RenewedTokens;
      };
    const one = first.renew(id, renewal(true));
    await inside;
    const two = second.renew(id, renewal(false));
    release();
    const [a, b] = await Promise.all([one, two]);
    expect(renewals).toBe(1);
    expect(a?.accessToken).toBe("renewed-access-token");
    expect(b?.accessToken).toBe("renewed-access-token");
    expect(b?.refreshToken).toBe("rotated-refresh-token");
    expect((await second.touch(id))?.accessToken).toBe("renewed-access-token");
    expect(JSON.stringify(await rowOf(id))).not.toContain("renewed-access-token");
  });

  test("a failed renewal changes nothing; a renewal of a session signed out finds none", async () => {
    const sessions = store();
    const { id } = await sessions.create(signedIn);
    await expect(
      sessions.renew(id, async () => {
        throw new Error("provider said invalid_grant");
      }),
    ).rejects.toThrow("invalid_grant");
    expect((await sessions.touch(id))?.refreshToken).toBe(REFRESH);
    await sessions.delete(id);
    let called = false;
    expect(
      await sessions.renew(id, async () => {
        called = true;
        return null;
      }),
    ).toBeNull();
    expect(called).toBe(false);
  });

  test("ready while the table answers", async () => {
    await store().ready();
  });

  test("sameSecret compares exactly", () => {
    expect(sameSecret("abc", "abc")).toBe(true);
    expect(sameSecret("abd", "abc")).toBe(false);
    expect(sameSecret("ab", "abc")).toBe(false);
    expect(sameSecret(undefined, "abc")).toBe(false);
  });
});
