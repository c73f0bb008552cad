import { randomUUID } from "node:crypto";
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from "jose";
import type { RecordedTokenClaims } from "./recorder.ts";

export const ACCESS_TOKEN_TYPE = "at+jwt";
const ALG = "RS256";

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public key as published in the JWKS. */
  publicJwk: JWK;
}

/** A fresh RS256 key pair for one sim run; its kid is the RFC 7638 thumbprint. */
export async function createSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, publicKey, publicJwk: { ...jwk, kid, alg: ALG, use: "sig" } };
}

export interface TokenIssuer {
  issuer: string;
  audience: string;
  key: SigningKey;
}

/** An RFC 9068 access token for `clientId` with these scopes. */
export async function issueAccessToken(
  issuer: TokenIssuer,
  grant: { clientId: string; scopes: readonly string[]; lifetimeSeconds: number },
): Promise<{ token: string; claims: RecordedTokenClaims }> {
  const iat = Math.floor(Date.now() / 1000);
  const claims: RecordedTokenClaims = {
    iss: issuer.issuer,
    sub: grant.clientId,
    aud: issuer.audience,
    exp: iat + grant.lifetimeSeconds,
    iat,
    jti: randomUUID(),
    client_id: grant.clientId,
    scope: grant.scopes.join(" "),
  };
  const token = await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: ALG, typ: ACCESS_TOKEN_TYPE, kid: issuer.key.kid })
    .sign(issuer.key.privateKey);
  return { token, claims };
}

export type TokenCheck = { ok: true; claims: RecordedTokenClaims } | { ok: false; reason: string };

/**
 * Verifies signature, `typ`, issuer, audience and expiry (no clock tolerance) and that the
 * RFC 9068 claims are present. The reason is for the sim's error message; it holds no token data.
 */
export async function verifyAccessToken(issuer: TokenIssuer, token: string): Promise<TokenCheck> {
  try {
    const { payload } = await jwtVerify(token, issuer.key.publicKey, {
      algorithms: [ALG],
      typ: ACCESS_TOKEN_TYPE,
      issuer: issuer.issuer,
      audience: issuer.audience,
      clockTolerance: 0,
      requiredClaims: ["sub", "exp", "iat", "jti", "client_id", "scope"],
    });
    const { sub, aud, exp, iat, jti, iss } = payload;
    const clientId = payload.client_id;
    const scope = payload.scope;
    if (
      typeof sub !== "string" ||
      aud === undefined ||
      typeof exp !== "number" ||
      typeof iat !== "number" ||
      typeof jti !== "string" ||
      typeof iss !== "string" ||
      typeof clientId !== "string" ||
      typeof scope !== "string"
    ) {
      return { ok: false, reason: "token claims have the wrong types" };
    }
    return { ok: true, claims: { iss, sub, aud, exp, iat, jti, client_id: clientId, scope } };
  } catch (error) {
    return { ok: false, reason: describeJoseError(error) };
  }
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "token expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return `token claim ${error.claim} is invalid (${error.reason})`;
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return "token signature does not verify";
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (error instanceof joseErrors.JOSEError) return "token is malformed";
  return "token could not be verified";
}
