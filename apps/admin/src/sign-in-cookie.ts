import { z } from "zod";
import type { PendingSignIn } from "./oidc.ts";
import { createSealer, deriveKey } from "./seal.ts";

/**
 * Sign-ins started and not yet finished travel with the browser that started them, in one
 * sealed cookie (AES-256-GCM: no one can read the PKCE verifier or nonce in it, or make or
 * change one), so the server keeps nothing that other people's requests could evict. The key
 * comes from ADMIN_SESSION_SECRET_FILE, so every instance opens every instance's cookie; without
 * it each process makes its own (a sign-in must then finish on the process that started it).
 */
export interface SignInCookie {
  /** The cookie's new value: `signIn` first, then this browser's unexpired ones, at most a few. */
  add(value: string | undefined, signIn: PendingSignIn): string;
  /**
   * The sign-in of `state` if the cookie holds it unexpired, with the cookie's value without it
   * (`rest` null: nothing left, delete the cookie); else null. A cookie that does not open
   * holds nothing.
   */
  take(
    value: string | undefined,
    state: string,
  ): { signIn: PendingSignIn; rest: string | null } | null;
}

/** Sign-ins one browser may have under way at once (several tabs signing in again). */
const MAX_PER_BROWSER = 3;
/** The key's HKDF label and the seal's use: a value sealed for anything else does not open here. */
const USE = "propgate-admin pending sign-ins";

const Entries = z.array(
  z.object({
    state: z.string().min(1).max(256),
    nonce: z.string().min(1).max(256),
    codeVerifier: z.string().min(43).max(128),
    expiresAt: z.number().int(),
  }),
);
type Entry = z.infer<typeof Entries>[number];

export function createSignInCookie(options: {
  /** ADMIN_SESSION_SECRET_FILE's content, or a process's random secret. */
  secret: string | Uint8Array;
  ttlMs: number;
  now?: () => number;
}): SignInCookie {
  const now = options.now ?? Date.now;
  const sealer = createSealer(deriveKey(options.secret, USE), USE);

  const seal = (entries: Entry[]) => sealer.seal(JSON.stringify(entries));

  /** The unexpired entries of a value sealed with this key; none for anything else. */
  function open(value: string | undefined): Entry[] {
    const text = sealer.open(value);
    if (text === null) return [];
    try {
      const entries = Entries.parse(JSON.parse(text));
      const at = now();
      return entries.filter((entry) => at < entry.expiresAt);
    } catch {
      return [];
    }
  }

  return {
    add(value, signIn) {
      const entry = { ...signIn, expiresAt: now() + options.ttlMs };
      return seal([entry, ...open(value)].slice(0, MAX_PER_BROWSER));
    },
    take(value, state) {
      const entries = open(value);
      const found = entries.find((entry) => entry.state === state);
      if (!found) return null;
      const rest = entries.filter((entry) => entry !== found);
      const { expiresAt: _expiresAt, ...signIn } = found;
      return { signIn, rest: rest.length > 0 ? seal(rest) : null };
    },
  };
}
