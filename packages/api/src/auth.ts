import { SiteId, UnitId, UserId } from "@propgate/domain";
import {
  createRemoteJWKSet,
  customFetch,
  type JSONWebKeySet,
  type JWKSCacheInput,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwksCache,
  jwtVerify,
  type RemoteJWKSet,
} from "jose";
import { z } from "zod";
import { UnauthorizedError } from "./errors.ts";

/** Admin roles in the token's `roles` claim: a viewer reads the admin api, an operator also acts. */
const VIEWER_ROLE = "propgate:viewer";
const OPERATOR_ROLE = "propgate:operator";
/** The one admin role before viewer/operator: still accepted, as an operator. */
export const ADMIN_ROLE = "propgate:admin";

type AdminRole = "viewer" | "operator";

/** The strongest admin role the token's `roles` claim names, or null for a resident. */
function adminRoleOf(roles: readonly string[]): AdminRole | null {
  if (roles.includes(OPERATOR_ROLE) || roles.includes(ADMIN_ROLE)) return "operator";
  if (roles.includes(VIEWER_ROLE)) return "viewer";
  return null;
}

const ResidentClaims = z.object({
  sub: UserId,
  sites: z.array(SiteId).max(200).default([]),
  /** The flats the resident lives in, as tenant-core names them: their doors' events reach them. */
  units: z.array(UnitId).max(50).default([]),
  roles: z.array(z.string().max(64)).max(20).default([]),
});

export interface Principal {
  userId: string;
  sites: string[];
  /** The units (flats) the token names. */
  units: string[];
  /** `viewer` reads the admin api, `operator` also acts; null: a resident, no admin api. */
  adminRole: AdminRole | null;
}

/** {@link createResidentVerifier} below is the one implementation. */
export interface ResidentVerifier {
  verify(authorization: string | null | undefined): Promise<Principal>;
}

/**
 * The remote JWKS and the set it holds now: jose writes every fetched set into its `jwksCache`
 * object (a new object per fetch, the same one until the next), read here without the copy
 * its `jwks()` makes on every call.
 */
interface KeySetView {
  remote: RemoteJWKSet;
  held: JWKSCacheInput;
}

/** The JWK a token names by `kid` in `set`, as text to compare across reloads; null if absent. */
function keyText(set: JSONWebKeySet | undefined, kid: string | undefined): string | null {
  if (!set || kid === undefined) return null;
  const jwk = set.keys.find((key) => key.kid === kid);
  return jwk ? JSON.stringify(jwk) : null;
}

interface Remembered {
  principal: Principal;
  until: number;
  /** The key set the signature was last checked against (remote JWKS only). */
  set: JSONWebKeySet | undefined;
  /** The token's `kid`, and its key as it stood in `set`; null: any change of the set re-verifies. */
  kid: string | undefined;
  key: string | null;
}

/**
 * Verifies resident (and admin) bearer tokens of tenant-core's identity provider: RS256/ES256
 * signature by a key of its JWKS, issuer, audience, expiry.
 */
export function createResidentVerifier(options: {
  issuer: string;
  audience: string;
  jwksUrl?: URL;
  /** PEM of the CA the JWKS's server certificate chains to, when it is not a public one. */
  jwksCa?: string;
  /** For tests and the embedded issuer: a key getter instead of a remote JWKS. */
  keys?: JWTVerifyGetKey;
  /** How long a verified token is remembered (never past its `exp`); default until `exp`, 0 = never. */
  rememberMs?: number;
  /**
   * The longest the remote JWKS is used before it is fetched again (then a remembered token
   * whose key left it is verified again, and refused); default 60 s.
   */
  jwksMaxAgeMs?: number;
  maxRemembered?: number;
  /** The clock, for tests. */
  now?: () => number;
}): ResidentVerifier {
  const { jwksCa } = options;
  const held: JWKSCacheInput = {};
  const remote = options.keys
    ? null
    : createRemoteJWKSet(options.jwksUrl as URL, {
        timeoutDuration: 3000,
        cooldownDuration: Math.min(30_000, options.jwksMaxAgeMs ?? 60_000),
        cacheMaxAge: options.jwksMaxAgeMs ?? 60_000,
        // Bun's fetch takes the CA per request; the system's store is used without one.
        ...(jwksCa
          ? {
              [customFetch]: (url: string, init: RequestInit) =>
                fetch(url, { ...init, tls: { ca: jwksCa } }),
            }
          : {}),
        [jwksCache]: held,
      });
  const keys: JWTVerifyGetKey = options.keys ?? (remote as RemoteJWKSet);
  const view: KeySetView | null = remote ? { remote, held } : null;
  const rememberMs = options.rememberMs ?? Number.POSITIVE_INFINITY;
  const maxRemembered = options.maxRemembered ?? 10_000;
  const now = options.now ?? Date.now;
  // A resident's app sends the same token with every call until it expires: its signature is
  // checked once, then the token's SHA-256 finds the principal (a token only its holder has).
  const remembered = new Map<string, Remembered>();

  /**
   * Whether a remembered token still stands: before its `exp`, and (remote JWKS) its key still
   * in the identity provider's set as it was. A hit never lets the set go stale: past its max
   * age it is fetched again first (jose would on a lookup, but a hit makes none). Anything in
   * doubt answers false, and the token is verified in full.
   */
  async function stillStands(entry: Remembered): Promise<boolean> {
    if (now() >= entry.until) return false;
    if (!view) return true;
    if (!view.remote.fresh) {
      try {
        await view.remote.reload();
      } catch {
        return false; // the full check reaches the JWKS again and fails the way it always has
      }
    }
    const set = view.held.jwks;
    if (set === entry.set) return true;
    if (entry.key === null || keyText(set, entry.kid) !== entry.key) return false;
    entry.set = set;
    return true;
  }

  return {
    async verify(authorization) {
      const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(authorization ?? "");
      if (!match?.[1]) throw new UnauthorizedError("a bearer token is required");
      const token = match[1];
      const key = rememberMs > 0 ? Bun.CryptoHasher.hash("sha256", token, "base64url") : "";
      const known = remembered.get(key);
      if (known) {
        if (await stillStands(known)) return known.principal;
        remembered.delete(key);
      }
      try {
        const { payload, protectedHeader } = await jwtVerify(token, keys, {
          currentDate: new Date(now()),
          issuer: options.issuer,
          audience: options.audience,
          algorithms: ["RS256", "ES256", "EdDSA"],
          requiredClaims: ["sub", "exp"],
          clockTolerance: 5,
        });
        const claims = ResidentClaims.parse(payload);
        const principal: Principal = {
          userId: claims.sub,
          sites: claims.sites,
          units: claims.units,
          adminRole: adminRoleOf(claims.roles),
        };
        if (rememberMs > 0) {
          if (remembered.size >= maxRemembered) remembered.clear();
          // `exp` is required; remembered until then at most (without the clock tolerance).
          const until = Math.min(Number(payload.exp) * 1000, now() + rememberMs);
          const set = view?.held.jwks;
          const kid = protectedHeader.kid;
          const signer = keyText(set, kid);
          // A set fetched since the signature was checked, without its key: not remembered.
          if (!view || kid === undefined || signer !== null)
            remembered.set(key, { principal, until, set, kid, key: signer });
        }
        return principal;
      } catch (error) {
        if (error instanceof joseErrors.JWKSTimeout) throw error; // our side's problem, not the token's
        if (error instanceof joseErrors.JWTExpired)
          throw new UnauthorizedError("the token has expired");
        if (error instanceof joseErrors.JOSEError || error instanceof z.ZodError) {
          throw new UnauthorizedError("the token is not valid for this service");
        }
        throw error; // JWKS unreachable and the like: not the caller's fault
      }
    },
  };
}
