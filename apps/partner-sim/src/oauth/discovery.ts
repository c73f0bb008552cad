import { PARTNER_SCOPES } from "@propgate/partner-client/contract";
import { Hono } from "hono";
import type { SimContext, SimEnv } from "../context.ts";
import { TOKEN_PATH } from "./token.ts";

export const METADATA_PATH = "/.well-known/oauth-authorization-server";
/** OpenID Connect discovery's path, served instead of or beside RFC 8414's (`metadataAt`). */
export const OIDC_METADATA_PATH = "/.well-known/openid-configuration";
export const JWKS_PATH = "/.well-known/jwks.json";

/**
 * The authorization server metadata at RFC 8414's path, OpenID Connect discovery's or both (the
 * `metadataAt` fault; elsewhere 404 like any unknown path), and the JWKS the access tokens verify
 * against. One document at either path: the sim signs no one in, so it names no authorization
 * endpoint and no ID token algorithms; what a client-credentials client reads is the same.
 */
export function discoveryRoutes(ctx: SimContext): Hono<SimEnv> {
  const issuer = ctx.tokens.issuer;
  const metadata = {
    issuer,
    token_endpoint: `${issuer}${TOKEN_PATH}`,
    jwks_uri: `${issuer}${JWKS_PATH}`,
    grant_types_supported: ["client_credentials"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    scopes_supported: [...PARTNER_SCOPES],
    response_types_supported: [],
  };
  const servedAt = (path: "rfc8414" | "oidc") => {
    const at = ctx.faults.get().metadataAt;
    return at === "both" || at === path;
  };
  return new Hono<SimEnv>()
    .get(METADATA_PATH, (c) => (servedAt("rfc8414") ? c.json(metadata) : c.notFound()))
    .get(OIDC_METADATA_PATH, (c) => (servedAt("oidc") ? c.json(metadata) : c.notFound()))
    .get(JWKS_PATH, (c) => c.json({ keys: [ctx.tokens.key.publicJwk] }));
}
