import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import {
  type AdminSessionRow,
  type Database,
  deleteAdminSession,
  insertAdminSession,
  lockAdminSession,
  pingAdminSessions,
  resealAdminSession,
  sweepAdminSessions,
  touchAdminSession,
} from "@propgate/consent-audit";
import { z } from "zod";
import type { Refreshed, SignedIn } from "./oidc.ts";
import { createSealer, deriveKey } from "./seal.ts";

/**
 * Server-side sessions of signed-in admins, in the database (`admin_sessions`), so every replica
 * of the admin app serves every session and a restart signs nobody out. The browser holds only
 * an opaque random id in an HttpOnly cookie; the table holds only its SHA-256, so a reader of
 * the database cannot present it. The provider's tokens and the CSRF token are sealed
 * (AES-256-GCM, `seal.ts`) under a key from ADMIN_SESSION_SECRET_FILE, bound to the row's id
 * hash: a changed row, a row moved under another id or sealed by another key does not open.
 */
export interface Session extends SignedIn {
  /** Sent by the page in `x-csrf-token` with every mutation. */
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
}

export type NewSession = SignedIn;

/** What renewing a session's tokens changes. */
export type RenewedTokens = Refreshed;

export interface SessionStore {
  /** A fresh session under a new random id (never one the browser brought). */
  create(session: NewSession): Promise<{ id: string; session: Session }>;
  /** The session, its idle timer restarted; null when unknown, past either timeout or unopenable. */
  touch(id: string | undefined): Promise<Session | null>;
  /**
   * Runs `renewal` on the session as stored now, its row locked so that one replica at a time
   * renews (a provider that rotates refresh tokens takes each only once), and stores the tokens
   * it returns; null from `renewal` keeps them (another replica renewed them meanwhile). Null
   * when the session is gone; a failing `renewal` changes nothing and throws.
   */
  renew(
    id: string,
    renewal: (session: Session) => Promise<RenewedTokens | null>,
  ): Promise<Session | null>;
  /** Ends the session on every replica; what it held, when it still opened. */
  delete(id: string | undefined): Promise<Session | null>;
  /** When the session ends if unused from now on: the earlier of the two timeouts. */
  endsAt(session: Session): number;
  /** Deletes the expired sessions (each replica does every `sweepIntervalMs`); how many. */
  sweep(): Promise<number>;
  /** Throws unless the sessions table answers (the app's readiness). */
  ready(): Promise<void>;
  stop(): void;
}

/** The key's HKDF label and the seal's use: nothing sealed for another use opens as a session. */
const USE = "propgate-admin sessions at rest";
/** What `randomToken()` makes: anything else is not looked up. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

const Sealed = z.object({
  userId: z.string().min(1),
  roles: z.array(z.string()),
  accessToken: z.string().min(1),
  accessTokenExpiresAt: z.number(),
  refreshToken: z.string().nullable(),
  idToken: z.string().nullable(),
  csrfToken: z.string().min(1),
  /** The sign-in's time as sealed: the absolute timeout counts from it, whatever the row says. */
  createdAt: z.number(),
});

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export const randomToken = (bytes = 32) => randomBytes(bytes).toString("base64url");

/** The row's key: hex SHA-256 of the id (a 256-bit random id needs no salt or slow hash). */
export const sessionIdHash = (id: string) => createHash("sha256").update(id).digest("hex");

/** Compares two secrets without leaking where they differ. */
export function sameSecret(given: string | undefined | null, expected: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createSessionStore(options: {
  db: Database;
  /** ADMIN_SESSION_SECRET_FILE's content, or a process's random secret (development). */
  secret: string | Uint8Array;
  idleMs: number;
  absoluteMs: number;
  now?: () => number;
  sweepIntervalMs?: number;
  /** A row that does not open (another key, or changed), a failed sweep; never a token. */
  warn?: (line: string) => void;
}): SessionStore {
  const { db } = options;
  const now = options.now ?? Date.now;
  const warn = options.warn ?? ((line: string) => console.warn(line));
  const timeouts = { idleMs: options.idleMs, absoluteMs: options.absoluteMs };
  const sealer = createSealer(deriveKey(options.secret, USE), USE);
  const endsAt = (session: Session) =>
    Math.min(session.lastSeenAt + options.idleMs, session.createdAt + options.absoluteMs);
  const idHashOf = (id: string | undefined) =>
    id !== undefined && SESSION_ID.test(id) ? sessionIdHash(id) : null;

  const seal = (idHash: string, session: Session) => {
    const { lastSeenAt: _lastSeenAt, ...sealed } = session;
    return sealer.seal(JSON.stringify(Sealed.parse(sealed)), idHash);
  };

  /** The row's session, or null when it does not open under this key for this id. */
  function open(row: AdminSessionRow): Session | null {
    const text = sealer.open(row.sealed, row.idHash);
    const parsed = text === null ? null : Sealed.safeParse(parseJson(text));
    if (!parsed?.success || parsed.data.userId !== row.userId) {
      warn(
        "admin session refused: its row does not open (ADMIN_SESSION_SECRET_FILE differs between replicas, or the row was changed)",
      );
      return null;
    }
    return { ...parsed.data, lastSeenAt: row.lastSeenAt.getTime() };
  }

  const sweep = () => sweepAdminSessions(db, new Date(now()), timeouts);
  const timer = setInterval(() => {
    sweep().catch(() => warn("admin session sweep failed: the database did not answer"));
  }, options.sweepIntervalMs ?? 60_000);
  timer.unref?.();

  return {
    async create(fields) {
      const at = now();
      const session: Session = {
        ...fields,
        csrfToken: randomToken(),
        createdAt: at,
        lastSeenAt: at,
      };
      const id = randomToken();
      const idHash = sessionIdHash(id);
      await insertAdminSession(db, {
        idHash,
        userId: session.userId,
        sealed: seal(idHash, session),
        createdAt: new Date(at),
        lastSeenAt: new Date(at),
      });
      return { id, session };
    },
    async touch(id) {
      const idHash = idHashOf(id);
      if (!idHash) return null;
      const at = now();
      const row = await touchAdminSession(db, idHash, new Date(at), timeouts);
      const session = row && open(row);
      if (!session || at >= session.createdAt + options.absoluteMs) return null;
      return session;
    },
    async renew(id, renewal) {
      const idHash = idHashOf(id);
      if (!idHash) return null;
      return db.transaction(async (tx) => {
        const row = await lockAdminSession(tx, idHash);
        const session = row && open(row);
        if (!session) return null;
        const tokens = await renewal(session);
        if (!tokens) return session;
        const renewed = { ...session, ...tokens };
        await resealAdminSession(tx, idHash, seal(idHash, renewed));
        return renewed;
      });
    },
    async delete(id) {
      const idHash = idHashOf(id);
      if (!idHash) return null;
      const row = await deleteAdminSession(db, idHash);
      return row && open(row);
    },
    endsAt,
    sweep,
    ready: () => pingAdminSessions(db),
    stop: () => clearInterval(timer),
  };
}

export interface CookieOptions {
  /** Off only for plain http on loopback in development. */
  secure: boolean;
  sameSite: "Strict" | "Lax";
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
}

/**
 * One `Set-Cookie` value: always HttpOnly and Path=/. A secure cookie takes the `__Host-` prefix,
 * which the browser only accepts with Secure, Path=/ and no Domain.
 */
export function cookieHeader(name: string, value: string, options: CookieOptions): string {
  const parts = [
    `${cookieName(name, options.secure)}=${value}`,
    "Path=/",
    "HttpOnly",
    `SameSite=${options.sameSite}`,
    `Max-Age=${Math.max(0, Math.floor(options.maxAge))}`,
  ];
  if (options.secure) parts.push("Secure");
  return parts.join("; ");
}

export const cookieName = (name: string, secure: boolean) => (secure ? `__Host-${name}` : name);
