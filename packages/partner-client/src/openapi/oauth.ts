import { type OpenApiDocument, requiredBody, textHeader } from "@propgate/openapi";
import { json } from "./schemas.ts";

/** The partner's authorization server, as Propgate's token source uses it. */
const NO_STORE = textHeader("`no-store`, as RFC 6749 §5.1 asks.");

export function oauthPaths(): OpenApiDocument["paths"] {
  return {
    "/.well-known/oauth-authorization-server": {
      get: {
        operationId: "oauth.metadata",
        summary: "Authorization server metadata (RFC 8414)",
        description:
          "Read before the first token (once per Propgate process) when Propgate is configured " +
          "with your issuer (PARTNER_<P>_ISSUER); `issuer` must equal it exactly. For an " +
          "issuer with a path, RFC 8414 §3 puts the path after this one " +
          "(`/.well-known/oauth-authorization-server/tenant`). Not needed when Propgate is " +
          "given your token URL instead (PARTNER_<P>_TOKEN_URL).",
        tags: ["oauth"],
        security: [],
        responses: { "200": json("Your metadata.", "AuthorizationServerMetadata") },
      },
    },
    "/oauth/token": {
      post: {
        operationId: "oauth.token",
        summary: "Client-credentials token (RFC 6749 §4.4)",
        description:
          "Wherever your metadata's `token_endpoint` (or PARTNER_<P>_TOKEN_URL) says; " +
          "`/oauth/token` is the reference path. Propgate authenticates with the client id and " +
          "secret you issued for the environment as `client_secret_basic` (HTTP Basic; the " +
          "credentials are never in the form). It asks for one operation's scope at a time, " +
          "caches each token until shortly before it expires, and asks again after a 401. " +
          "While this endpoint fails, calls fail as unavailable and Propgate backs off.",
        tags: ["oauth"],
        security: [{ clientSecretBasic: [] }],
        requestBody: requiredBody(
          "The grant and the scope.",
          "application/x-www-form-urlencoded",
          "TokenRequest",
        ),
        responses: {
          "200": {
            ...json("A bearer token.", "TokenResponse"),
            headers: { "Cache-Control": NO_STORE },
          },
          "400": json("A bad request (`invalid_request`, `invalid_scope`, …).", "OAuthErrorBody"),
          "401": json(
            "The client could not be authenticated (`invalid_client`).",
            "OAuthErrorBody",
          ),
        },
      },
    },
  };
}
