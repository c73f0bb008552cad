import type { SurfaceScope } from "@propgate/domain";
import type { MiddlewareHandler } from "hono";
import type { PartnerSurface, SurfaceEnv } from "./context.ts";
import { PartnerSurfaceError } from "./errors.ts";
import { InvalidTokenError } from "./tokens.ts";

const REALM = 'realm="propgate-partner-surface"';

/**
 * Lets a request through only with a valid partner-surface token of a client that is still
 * registered, calls from one of its addresses and holds `scope` (in the token and in the
 * clients file).
 */
export function requireScope(
  surface: PartnerSurface,
  scope: SurfaceScope,
): MiddlewareHandler<SurfaceEnv> {
  return async (c, next) => {
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(c.req.header("authorization") ?? "");
    if (!match?.[1]) {
      throw new PartnerSurfaceError(401, "UNAUTHORIZED", "a bearer token is required", {
        "www-authenticate": `Bearer ${REALM}`,
      });
    }
    let claims: Awaited<ReturnType<PartnerSurface["tokens"]["verify"]>>;
    try {
      claims = await surface.tokens.verify(match[1]);
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      throw new PartnerSurfaceError(401, "UNAUTHORIZED", error.message, {
        "www-authenticate": `Bearer ${REALM}, error="invalid_token"`,
      });
    }
    // Still registered, and used from one of its addresses: a token is a bearer credential.
    const registered = surface.clientAt(claims.clientId, c.get("peer"));
    if (!registered || registered.partner !== claims.partner) {
      throw new PartnerSurfaceError(401, "UNAUTHORIZED", "the client is not registered", {
        "www-authenticate": `Bearer ${REALM}, error="invalid_token"`,
      });
    }
    c.set("client", claims);
    if (!claims.scopes.includes(scope) || !registered.scopes.includes(scope)) {
      throw new PartnerSurfaceError(
        403,
        "INSUFFICIENT_SCOPE",
        `this endpoint needs scope ${scope}`,
        {
          "www-authenticate": `Bearer ${REALM}, error="insufficient_scope", scope="${scope}"`,
        },
      );
    }
    await next();
  };
}
