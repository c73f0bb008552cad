import type { PartnerSettings } from "@propgate/config";
import { auditErrorCode, type PartnerScope, type TokenSource } from "@propgate/partner-client";
import type { Exchange } from "./observed-fetch.ts";
import type { CheckRow } from "./report.ts";

/**
 * The OAuth rows: discovery (RFC 8414, or OpenID Connect), and one token per scope, judged from
 * what was answered.
 */

const pass = (check: string, detail: string): CheckRow => ({ check, status: "pass", detail });
const fail = (check: string, detail: string): CheckRow => ({ check, status: "fail", detail });
const skip = (check: string, detail: string): CheckRow => ({ check, status: "skip", detail });

const LONGEST_TOKEN_S = 86_400;

/** Scope names as the partner wrote them, only when they look like scope tokens. */
function shownScopes(scopes: readonly string[]): string {
  const shown = scopes.filter((scope) => /^[\x21-\x7e]{1,40}$/.test(scope)).slice(0, 6);
  return shown.length > 0 ? shown.join(" ") : "(unprintable)";
}

function refusal(exchange: Exchange): string {
  const status = exchange.status ?? 0;
  const code = typeof exchange.fields?.error === "string" ? exchange.fields.error : null;
  return `HTTP ${status} ${auditErrorCode(status, code)}`;
}

/** What was wrong with a 2xx token answer the token source refused (RFC 6749 §5.1). */
function brokenTokenAnswer(exchange: Exchange): string {
  const fields = exchange.fields;
  if (exchange.mediaType !== "application/json") return "the token answer is not application/json";
  if (!fields) return "the token answer is not a JSON object";
  if (!fields.hasAccessToken) return "the token answer has no access_token";
  if (typeof fields.tokenType !== "string" || fields.tokenType.toLowerCase() !== "bearer")
    return "token_type is not Bearer";
  return "the token answer breaks RFC 6749 §5.1 (refused by oauth4webapi)";
}

export interface TokenRowsInput {
  tokens: TokenSource;
  exchanges: Exchange[];
  scopes: readonly PartnerScope[];
  /** Scopes a partner may rightly refuse (video.view when no camera is named), and why. */
  optional: ReadonlyMap<PartnerScope, string>;
}

/** Asks for one token per scope; resolves to its rows and the scopes it got a token for. */
export async function tokenRows(
  input: TokenRowsInput,
): Promise<{ rows: CheckRow[]; granted: Set<PartnerScope> }> {
  const rows: CheckRow[] = [];
  const granted = new Set<PartnerScope>();
  for (const scope of input.scopes) {
    const check = `token:${scope}`;
    const from = input.exchanges.length;
    let failed = false;
    try {
      await input.tokens.getToken([scope]);
      granted.add(scope);
    } catch {
      failed = true;
    }
    const sent = input.exchanges
      .slice(from)
      .filter((exchange) => exchange.method === "POST")
      .at(-1);
    if (!sent) {
      rows.push(
        failed
          ? fail(check, "no token request was sent: discovery failed (see discovery)")
          : pass(check, "granted"),
      );
      continue;
    }
    if (failed) {
      if (sent.status === null) {
        rows.push(fail(check, `the token endpoint did not answer (${sent.failure})`));
      } else if (sent.status >= 200 && sent.status < 300) {
        rows.push(fail(check, brokenTokenAnswer(sent)));
      } else {
        const why = input.optional.get(scope);
        rows.push(
          why && sent.status < 500
            ? skip(check, `not granted (${refusal(sent)}): ${why}`)
            : fail(check, `the token endpoint refused: ${refusal(sent)}`),
        );
      }
      continue;
    }
    rows.push(judgeTokenAnswer(check, scope, sent));
  }
  return { rows, granted };
}

/** A token was issued: does its answer say what it is for, and for how long? */
function judgeTokenAnswer(check: string, scope: PartnerScope, sent: Exchange): CheckRow {
  const notes: string[] = [];
  const said = sent.fields?.scope;
  if (typeof said === "string") {
    const given = said.split(" ").filter((token) => token !== "");
    if (!given.includes(scope))
      return fail(check, `granted "${shownScopes(given)}" instead of ${scope}`);
    const extra = given.filter((token) => token !== scope);
    if (extra.length > 0)
      return fail(check, `granted more than asked (one scope per token): ${shownScopes(extra)}`);
  } else if (said === undefined) {
    notes.push("no scope in the answer (RFC 6749 §5.1: as asked)");
  } else {
    return fail(check, "scope in the answer is not a string");
  }
  const expiresIn = sent.fields?.expiresIn;
  if (expiresIn === undefined) {
    notes.push("no expires_in (taken as 300 s)");
  } else if (
    typeof expiresIn !== "number" ||
    !Number.isInteger(expiresIn) ||
    expiresIn <= 0 ||
    expiresIn > LONGEST_TOKEN_S
  ) {
    return fail(check, `expires_in is not a whole number of seconds in 1-${LONGEST_TOKEN_S}`);
  } else {
    notes.unshift(`expires in ${expiresIn} s`);
  }
  return pass(check, `granted, ${notes.join("; ")}`);
}

const RFC8414_PATH = "/.well-known/oauth-authorization-server";
const OIDC_PATH = "/.well-known/openid-configuration";

const where = (exchange: Exchange) => `${exchange.url.origin}${exchange.url.pathname}`;

/**
 * The issuer's metadata (when `PARTNER_<P>_ISSUER` is set), as oauth4webapi reads it and with
 * what our token requests need: RFC 8414's, or OpenID Connect discovery's when RFC 8414's path
 * answered a 4xx (the api's token source asks in that order); and the token endpoint answering
 * at all. With `_TOKEN_URL` set too, the api uses that URL and the metadata is checked anyway.
 */
export function discoveryRow(settings: PartnerSettings, exchanges: readonly Exchange[]): CheckRow {
  const check = "discovery";
  const prefix = `PARTNER_${settings.name.toUpperCase()}_`;
  const posts = exchanges.filter((exchange) => exchange.method === "POST");
  const answered = posts.find((exchange) => exchange.status !== null);
  const endpoint = () => {
    if (answered) return null;
    const first = posts[0];
    return first
      ? `the token endpoint ${first.url.origin}${first.url.pathname} did not answer (${first.failure})`
      : "no token request was sent";
  };
  if (!settings.issuer) {
    const problem = endpoint();
    return problem
      ? fail(check, problem)
      : pass(check, `${prefix}TOKEN_URL is set (no discovery); the token endpoint answers`);
  }
  const gets = exchanges.filter((exchange) => exchange.method === "GET");
  const rfc8414 = gets.find((exchange) => exchange.url.pathname.startsWith(RFC8414_PATH));
  const oidc = gets.find((exchange) => exchange.url.pathname.endsWith(OIDC_PATH));
  const meta = oidc ?? rfc8414;
  if (!meta) return fail(check, "no metadata request was sent");
  const at = where(meta);
  if (meta.status === null) return fail(check, `${at} did not answer (${meta.failure})`);
  if (meta.status !== 200) {
    return fail(
      check,
      rfc8414 && oidc
        ? `no metadata: ${where(rfc8414)} answered HTTP ${rfc8414.status}, ${at} HTTP ${meta.status}`
        : `${at} answered HTTP ${meta.status}`,
    );
  }
  const standard = meta === oidc ? "OpenID Connect discovery" : "RFC 8414";
  if (meta.mediaType !== "application/json") return fail(check, `${at} is not application/json`);
  const fields = meta.fields;
  if (!fields) return fail(check, `${at} is not a JSON object`);
  let issuer: string | null = null;
  try {
    issuer = typeof fields.issuer === "string" ? new URL(fields.issuer).href : null;
  } catch {}
  if (issuer !== settings.issuer.href) {
    const section = meta === oidc ? "OpenID Connect Discovery §4.3" : "RFC 8414 §3.3";
    return fail(check, `the metadata's issuer is not ${prefix}ISSUER (${section})`);
  }
  if (typeof fields.tokenEndpoint !== "string")
    return fail(check, "the metadata has no token_endpoint");
  if (Array.isArray(fields.grantTypes) && !fields.grantTypes.includes("client_credentials"))
    return fail(check, "grant_types_supported lacks client_credentials");
  if (Array.isArray(fields.authMethods) && !fields.authMethods.includes("client_secret_basic"))
    return fail(check, "token_endpoint_auth_methods_supported lacks client_secret_basic");
  const problem = endpoint();
  if (problem) return fail(check, problem);
  const notes = [`${standard} metadata at ${at}`];
  if (meta === oidc && rfc8414) notes.push(`${where(rfc8414)} answered HTTP ${rfc8414.status}`);
  if (settings.tokenUrl) {
    notes.push(
      fields.tokenEndpoint === settings.tokenUrl.href
        ? `its token_endpoint is ${prefix}TOKEN_URL`
        : `its token_endpoint is not ${prefix}TOKEN_URL, which the api uses`,
    );
  }
  return pass(check, `${notes.join("; ")}; the token endpoint answers`);
}
