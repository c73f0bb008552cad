import { SiteId, UserId } from "@propgate/domain";
import { createRemoteJWKSet, type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from "jose";
import { z } from "zod";
import { UnauthorizedError } from "./errors.ts";

export const ADMIN_ROLE = "propgate:admin";

const ResidentClaims = z.object({
  sub: UserId,
  sites: z.array(SiteId).max(200).default([]),
  roles: z.array(z.string().max(64)).max(20).default([]),
});

export interface Principal {
  userId: string;
  sites: string[];
  isAdmin: boolean;
}

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
  /** For tests and the embedded issuer: a key getter instead of a remote JWKS. */
  keys?: JWTVerifyGetKey;
}): ResidentVerifier {
  const keys =
    options.keys ??
    createRemoteJWKSet(options.jwksUrl as URL, { timeoutDuration: 3000, cooldownDuration: 30_000 });
  return {
    async verify(authorization) {
      const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(authorization ?? "");
      if (!match?.[1]) throw new UnauthorizedError("a bearer token is required");
      try {
        const { payload } = await jwtVerify(match[1], keys, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: ["RS256", "ES256", "EdDSA"],
          requiredClaims: ["sub", "exp"],
          clockTolerance: 5,
        });
        const claims = ResidentClaims.parse(payload);
        return {
          userId: claims.sub,
          sites: claims.sites,
          isAdmin: claims.roles.includes(ADMIN_ROLE),
        };
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
