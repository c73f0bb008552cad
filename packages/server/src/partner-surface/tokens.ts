import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { newId, PARTNERS, type Partner, SURFACE_SCOPES, type SurfaceScope } from "@propgate/domain";
import { calculateJwkThumbprint, exportJWK, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import type { SigningKey } from "./config.ts";

/** `aud` of every token the partner surface issues, and the only one it accepts. */
export const PARTNER_SURFACE_AUDIENCE = "propgate-partner-surface";
/** `iss` of partner-surface tokens: the same on every instance, so a shared key suffices. */
export const PARTNER_SURFACE_ISSUER = "urn:propgate:partner-surface";

/** What a verified partner token says. */
export interface PartnerTokenClaims {
  clientId: string;
  partner: Partner;
  scopes: SurfaceScope[];
  jti: string;
}

/** A missing, malformed, expired or foreign token. */
export class InvalidTokenError extends Error {
  readonly code = "UNAUTHORIZED";
  constructor(message: string) {
    super(message);
    this.name = "InvalidTokenError";
  }
}

const Claims = z.object({
  sub: z.string(),
  client_id: z.string(),
  partner: z.enum(PARTNERS),
  scope: z.string(),
  jti: z.string(),
});

export interface PartnerTokens {
  issue(input: {
    clientId: string;
    partner: Partner;
    scopes: readonly SurfaceScope[];
  }): Promise<{ accessToken: string; expiresIn: number }>;
  verify(token: string): Promise<PartnerTokenClaims>;
}

/** Signs and verifies the partner surface's access tokens (RFC 9068 JWTs, `typ: at+jwt`). */
export function createPartnerTokens(options: {
  signingKey: SigningKey | null;
  ttlSeconds: number;
}): PartnerTokens {
  const signing: SigningKey = options.signingKey ?? {
    key: generateKeyPairSync("ed25519").privateKey,
    alg: "EdDSA",
  };
  const publicKey = createPublicKey(signing.key);
  let kid: Promise<string> | undefined;
  return {
    async issue({ clientId, partner, scopes }) {
      kid ??= exportJWK(publicKey).then((jwk) => calculateJwkThumbprint(jwk));
      const accessToken = await new SignJWT({
        client_id: clientId,
        partner,
        scope: scopes.join(" "),
      })
        .setProtectedHeader({ alg: signing.alg, typ: "at+jwt", kid: await kid })
        .setIssuer(PARTNER_SURFACE_ISSUER)
        .setAudience(PARTNER_SURFACE_AUDIENCE)
        .setSubject(clientId)
        .setIssuedAt()
        .setExpirationTime(`${options.ttlSeconds}s`)
        .setJti(newId("ptk"))
        .sign(signing.key);
      return { accessToken, expiresIn: options.ttlSeconds };
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, publicKey, {
          issuer: PARTNER_SURFACE_ISSUER,
          audience: PARTNER_SURFACE_AUDIENCE,
          algorithms: [signing.alg],
          typ: "at+jwt",
          requiredClaims: ["sub", "exp", "iat", "jti"],
          clockTolerance: 5,
        });
        const claims = Claims.parse(payload);
        if (claims.client_id !== claims.sub) throw new InvalidTokenError("inconsistent token");
        const scopes = claims.scope
          .split(" ")
          .filter((scope): scope is SurfaceScope =>
            SURFACE_SCOPES.some((known) => known === scope),
          );
        return { clientId: claims.sub, partner: claims.partner, scopes, jti: claims.jti };
      } catch (error) {
        if (error instanceof InvalidTokenError) throw error;
        if (error instanceof joseErrors.JWTExpired) {
          throw new InvalidTokenError("the token has expired");
        }
        if (error instanceof joseErrors.JOSEError || error instanceof z.ZodError) {
          throw new InvalidTokenError("the token is not valid for this service");
        }
        throw error;
      }
    },
  };
}
