import type { JsonSchema } from "./document.ts";

/** RFC 6749 §2.3.1, as both token endpoints (a partner's and the partner surface's) take it. */
export const CLIENT_SECRET_BASIC: JsonSchema = {
  type: "http",
  scheme: "basic",
  description:
    "client_secret_basic (RFC 6749 §2.3.1): the form-encoded client id and secret, " +
    "joined by `:`, base64.",
};

/** Bearer tokens of the client-credentials grant from `/oauth/token`, with their scopes. */
export function clientCredentialsScheme(
  description: string,
  scopes: Record<string, string>,
): JsonSchema {
  return {
    type: "oauth2",
    description,
    flows: { clientCredentials: { tokenUrl: "/oauth/token", scopes } },
  };
}
