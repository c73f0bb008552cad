import { createHash } from "node:crypto";
import { SiteId, UserId } from "@propgate/domain";
import {
  createRemoteJWKSet,
  customFetch,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
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
  roles: z.array(z.string().max(64)).max(20).default([]),
});

export interface Principal {
  userId: string;
  sites: string[];
  /** `viewer` reads the admin api, `operator` also acts; null: a resident, no admin api. */
  adminRole: AdminRole | null;
}

/** {@link createResidentVerifier} below is the one implementation. */
export interface ResidentVerifier {
  verify(authorization: string | null | undefined): Promise<Principal>;
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
  /** How long a verified token is remembered (never past its `exp`); default 60 s, 0 = never. */
  rememberMs?: number;
  maxRemembered?: number;
  /** The clock, for tests. */
  now?: () => number;
}): ResidentVerifier {
  const { jwksCa } = options;
  const keys =
    options.keys ??
    createRemoteJWKSet(options.jwksUrl as URL, {
      timeoutDuration: 3000,
      cooldownDuration: 30_000,
      // Bun's fetch takes the CA per request; the system's store is used without one.
      ...(jwksCa
        ? {
            [customFetch]: (url: string, init: RequestInit) =>
              fetch(url, { ...init, tls: { ca: jwksCa } }),
          }
        : {}),
    });
  const rememberMs = options.rememberMs ?? 60_000;
  const maxRemembered = options.maxRemembered ?? 10_000;
  const now = options.now ?? Date.now;
  // A resident's app sends the same token with every call until it expires: its signature is
  // checked once, then the token's SHA-256 finds the principal (a token only its holder has).
  const remembered = new Map<string, { principal: Principal; until: number }>();
  return {
    async verify(authorization) {
      const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(authorization ?? "");
      if (!match?.[1]) throw new UnauthorizedError("a bearer token is required");
      const token = match[1];
      const key = rememberMs > 0 ? createHash("sha256").update(token).digest("base64url") : "";
      const known = remembered.get(key);
      if (known) {
        if (now() < known.until) return known.principal;
        remembered.delete(key);
      }
      try {
        const { payload } = await jwtVerify(token, keys, {
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
          adminRole: adminRoleOf(claims.roles),
        };
        if (rememberMs > 0) {
          if (remembered.size >= maxRemembered) remembered.clear();
          // `exp` is required; remembered until then at most (without the clock tolerance).
          const until = Math.min(Number(payload.exp) * 1000, now() + rememberMs);
          remembered.set(key, { principal, until });
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
