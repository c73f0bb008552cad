import { PartnerScope } from "@propgate/partner-client/contract";
import type { Context } from "hono";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { issueAccessToken } from "../access-tokens.ts";
import type { SimContext, SimEnv } from "../context.ts";
import { waitFor } from "../waiting.ts";
import { authenticateClient } from "./client-auth.ts";

export const TOKEN_PATH = "/oauth/token";

const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" } as const;

type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "temporarily_unavailable";

function oauthError(
  c: Context<SimEnv>,
  status: ContentfulStatusCode,
  error: OAuthErrorCode,
  description: string,
  headers: Record<string, string> = {},
) {
  return c.json({ error, error_description: description }, status, { ...NO_STORE, ...headers });
}

/** Media type without parameters, lower case. */
function mediaType(header: string | undefined): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** The client credentials grant (RFC 6749 §4.4) issuing RFC 9068 JWT access tokens. */
export function tokenRoutes(ctx: SimContext): Hono<SimEnv> {
  const realm = `partner-sim-${ctx.name}`;

  return new Hono<SimEnv>().post(TOKEN_PATH, async (c) => {
    const record = c.get("record");
    const faults = ctx.faults.get();
    if (faults.tokenLatencyMs > 0) {
      ctx.holdOpen(c.req.raw);
      await waitFor(faults.tokenLatencyMs, ctx.shutdown);
      if (ctx.shutdown.aborted) {
        return oauthError(c, 503, "temporarily_unavailable", "partner-sim is stopping");
      }
    }
    if (faults.tokenEndpointDown) {
      record.fault = "tokenEndpointDown";
      return oauthError(c, 503, "temporarily_unavailable", "token endpoint is down (injected)", {
        "Retry-After": "1",
      });
    }

    if (mediaType(c.req.header("content-type")) !== "application/x-www-form-urlencoded") {
      return oauthError(
        c,
        400,
        "invalid_request",
        "token requests must be application/x-www-form-urlencoded",
      );
    }
    const params = new URLSearchParams(await c.req.text());
    for (const key of new Set(params.keys())) {
      if (params.getAll(key).length > 1) {
        return oauthError(c, 400, "invalid_request", `parameter ${key} is given more than once`);
      }
    }

    const auth = authenticateClient(ctx.clients, c.req.header("authorization"), params);
    if (!auth.ok) {
      if (auth.claimedClientId !== undefined) record.clientId = auth.claimedClientId;
      if (auth.error === "invalid_client") {
        return oauthError(c, 401, "invalid_client", auth.description, {
          "WWW-Authenticate": `Basic realm="${realm}", charset="UTF-8"`,
        });
      }
      return oauthError(c, 400, auth.error, auth.description);
    }
    const client = auth.client;
    record.clientId = client.clientId;

    const grantType = params.get("grant_type");
    if (grantType === null || grantType === "") {
      return oauthError(c, 400, "invalid_request", "grant_type is missing");
    }
    if (grantType !== "client_credentials") {
      return oauthError(c, 400, "unsupported_grant_type", "only client_credentials is supported");
    }

    let scopes: string[] = client.scopes;
    const requested = params.get("scope");
    if (requested !== null) {
      // RFC 6749 §3.3: scope-token *( SP scope-token ).
      const tokens = requested.split(" ");
      if (tokens.some((token) => token === "")) {
        return oauthError(
          c,
          400,
          "invalid_scope",
          "scope must be scope tokens separated by single spaces",
        );
      }
      const unknown = tokens.filter((token) => !PartnerScope.safeParse(token).success);
      if (unknown.length > 0) {
        return oauthError(c, 400, "invalid_scope", `unknown scope ${unknown.join(" ")}`);
      }
      const allowed = new Set<string>(client.scopes);
      const refused = tokens.filter((token) => !allowed.has(token));
      if (refused.length > 0) {
        return oauthError(
          c,
          400,
          "invalid_scope",
          `scope ${refused.join(" ")} is not allowed for this client`,
        );
      }
      scopes = [...new Set(tokens)];
    }
    if (scopes.length === 0) {
      return oauthError(c, 400, "invalid_scope", "this client is allowed no scope");
    }

    const lifetimeSeconds = ctx.faults.get().tokenLifetimeSeconds;
    const { token, claims } = await issueAccessToken(ctx.tokens, {
      clientId: client.clientId,
      scopes,
      lifetimeSeconds,
    });
    record.tokenClaims = claims;
    return c.json(
      {
        access_token: token,
        token_type: "Bearer",
        expires_in: lifetimeSeconds,
        scope: claims.scope,
      },
      200,
      NO_STORE,
    );
  });
}
