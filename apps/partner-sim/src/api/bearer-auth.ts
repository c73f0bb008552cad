import type { PartnerScope } from "@propgate/partner-client/contract";
import type { Context } from "hono";
import { verifyAccessToken } from "../access-tokens.ts";
import type { SimContext, SimEnv } from "../context.ts";
import type { RecordedTokenClaims } from "../recorder.ts";
import { apiError } from "./answers.ts";

export type Authorization =
  | { ok: true; claims: RecordedTokenClaims }
  | { ok: false; response: Response };

/**
 * RFC 6750 bearer check of an API call: a valid access token of this sim carrying `scope`.
 * Verified claims go into the request's record even when the scope is missing.
 */
export async function authorize(
  c: Context<SimEnv>,
  ctx: SimContext,
  scope: PartnerScope,
): Promise<Authorization> {
  const realm = `partner-sim-${ctx.name}`;
  const invalid = (message: string): Authorization => ({
    ok: false,
    response: apiError(c, 401, "invalid_token", message, {
      "WWW-Authenticate": `Bearer realm="${realm}", error="invalid_token", error_description="${message.replace(/["\\]/g, "'")}"`,
    }),
  });

  const header = c.req.header("authorization");
  if (header === undefined) return invalid("bearer access token required");
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i.exec(header);
  if (!match?.[1]) return invalid("Authorization header is not a bearer token");

  const check = await verifyAccessToken(ctx.tokens, match[1]);
  if (!check.ok) return invalid(check.reason);
  if (ctx.faults.takeTokenRejection()) return invalid("token revoked");
  const record = c.get("record");
  record.tokenClaims = check.claims;
  record.clientId = check.claims.client_id;

  if (!check.claims.scope.split(" ").includes(scope) && !ctx.faults.get().acceptAnyScope) {
    return {
      ok: false,
      response: apiError(c, 403, "insufficient_scope", `token lacks scope ${scope}`, {
        "WWW-Authenticate": `Bearer realm="${realm}", error="insufficient_scope", scope="${scope}"`,
      }),
    };
  }
  return { ok: true, claims: check.claims };
}
