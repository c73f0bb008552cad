import { randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Server-side sessions of signed-in admins, in this process's memory: one admin-app process
 * holds them all (a restart signs everyone out; several processes would need a shared store).
 * The browser holds only an opaque random id in an HttpOnly cookie; the provider's tokens stay
 * here.
 */
export interface Session {
  /** The provider's `sub` of the admin. */
  userId: string;
  /** The `roles` claim of the ID token, for display only (the api decides from the access token). */
  roles: string[];
  accessToken: string;
  /** Epoch ms; the access token is refreshed (or the session ends) before then. */
  accessTokenExpiresAt: number;
  refreshToken: string | null;
  /** Kept for RP-initiated logout (`id_token_hint`). */
  idToken: string | null;
  /** Sent by the page in `x-csrf-token` with every mutation. */
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
}

export type NewSession = Omit<Session, "csrfToken" | "createdAt" | "lastSeenAt">;

export interface SessionStore {
  /** A fresh session under a new random id (never one the browser brought). */
  create(session: NewSession): { id: string; session: Session };
  /** The session, its idle timer restarted; null when unknown or past either timeout. */
  touch(id: string | undefined): Session | null;
  delete(id: string | undefined): Session | null;
  /** When the session ends if unused from now on: the earlier of the two timeouts. */
  endsAt(session: Session): number;
  size(): number;
  stop(): void;
}

export const randomToken = (bytes = 32) => randomBytes(bytes).toString("base64url");

/** Compares two secrets without leaking where they differ. */
export function sameSecret(given: string | undefined | null, expected: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createSessionStore(options: {
  idleMs: number;
  absoluteMs: number;
  maxSessions?: number;
  now?: () => number;
  sweepIntervalMs?: number;
}): SessionStore {
  const now = options.now ?? Date.now;
  const maxSessions = options.maxSessions ?? 10_000;
  const sessions = new Map<string, Session>();
  const endsAt = (session: Session) =>
    Math.min(session.lastSeenAt + options.idleMs, session.createdAt + options.absoluteMs);
  const live = (session: Session) => now() < endsAt(session);
  const sweep = () => {
    for (const [id, session] of sessions) if (!live(session)) sessions.delete(id);
  };
  const timer = setInterval(sweep, options.sweepIntervalMs ?? 60_000);
  timer.unref?.();
  return {
    create(fields) {
      if (sessions.size >= maxSessions) sweep();
      if (sessions.size >= maxSessions) {
        // Full of live sessions: the one idle longest goes (Map order is creation order).
        const oldest = [...sessions].sort((a, b) => a[1].lastSeenAt - b[1].lastSeenAt)[0];
        if (oldest) sessions.delete(oldest[0]);
      }
      const at = now();
      const session: Session = {
        ...fields,
        csrfToken: randomToken(),
        createdAt: at,
        lastSeenAt: at,
      };
      const id = randomToken();
      sessions.set(id, session);
      return { id, session };
    },
    touch(id) {
      if (!id) return null;
      const session = sessions.get(id);
      if (!session) return null;
      if (!live(session)) {
        sessions.delete(id);
        return null;
      }
      session.lastSeenAt = now();
      return session;
    },
    delete(id) {
      if (!id) return null;
      const session = sessions.get(id) ?? null;
      sessions.delete(id);
      return session;
    },
    endsAt,
    size: () => sessions.size,
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
