import { PARTNER_SCOPES } from "@propgate/partner-client/contract";
import { Hono } from "hono";
import type { SimContext, SimEnv } from "../context.ts";
import { TOKEN_PATH } from "./token.ts";

export const METADATA_PATH = "/.well-known/oauth-authorization-server";
export const JWKS_PATH = "/.well-known/jwks.json";

/** RFC 8414 metadata and the JWKS the access tokens verify against. */
export function discoveryRoutes(ctx: SimContext): Hono<SimEnv> {
  const issuer = ctx.tokens.issuer;
  return new Hono<SimEnv>()
    .get(METADATA_PATH, (c) =>
      c.json({
        issuer,
        token_endpoint: `${issuer}${TOKEN_PATH}`,
        jwks_uri: `${issuer}${JWKS_PATH}`,
        grant_types_supported: ["client_credentials"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        scopes_supported: [...PARTNER_SCOPES],
        response_types_supported: [],
      }),
    )
    .get(JWKS_PATH, (c) => c.json({ keys: [ctx.tokens.key.publicJwk] }));
}
