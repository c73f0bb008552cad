import type { PartnerFetch } from "@propgate/partner-client";

/**
 * The partner's fetch with a note of each answer, for the checks that judge what the api's own
 * code reads silently (discovery, the token answer, `Retry-After`). Notes keep only the fields
 * those checks need; an access token is never kept.
 */

export interface OAuthFields {
  error: unknown;
  tokenType: unknown;
  scope: unknown;
  expiresIn: unknown;
  hasAccessToken: boolean;
  issuer: unknown;
  tokenEndpoint: unknown;
  grantTypes: unknown;
  authMethods: unknown;
}

export interface Exchange {
  method: string;
  url: URL;
  /** The `scope` a token request asked for. */
  askedScope: string | null;
  /** null: no answer. */
  status: number | null;
  failure: "timeout" | "network" | null;
  /** The media type of the answer, without parameters. */
  mediaType: string;
  retryAfter: string | null;
  /** Picked from a JSON object answer (discovery and token endpoint only); null otherwise. */
  fields: OAuthFields | null;
}

function mediaTypeOf(header: string | null): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function pickFields(text: string): OAuthFields | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const json = body as Record<string, unknown>;
  return {
    error: json.error,
    tokenType: json.token_type,
    scope: json.scope,
    expiresIn: json.expires_in,
    hasAccessToken: typeof json.access_token === "string" && json.access_token !== "",
    issuer: json.issuer,
    tokenEndpoint: json.token_endpoint,
    grantTypes: json.grant_types_supported,
    authMethods: json.token_endpoint_auth_methods_supported,
  };
}

/** `fetch` that notes every exchange in `exchanges`; with `readFields`, its JSON fields too. */
export function observedFetch(base: PartnerFetch, options: { readFields: boolean }) {
  const exchanges: Exchange[] = [];
  const fetch: PartnerFetch = async (input, init) => {
    const request = input instanceof Request ? input : null;
    const exchange: Exchange = {
      method: (init?.method ?? request?.method ?? "GET").toUpperCase(),
      url: new URL(request ? request.url : String(input)),
      askedScope: init?.body instanceof URLSearchParams ? init.body.get("scope") : null,
      status: null,
      failure: null,
      mediaType: "",
      retryAfter: null,
      fields: null,
    };
    exchanges.push(exchange);
    let response: Response;
    try {
      response = await base(input, init);
    } catch (error) {
      const name = error instanceof Error ? error.name : "";
      exchange.failure = name === "TimeoutError" || name === "AbortError" ? "timeout" : "network";
      throw error;
    }
    exchange.status = response.status;
    exchange.mediaType = mediaTypeOf(response.headers.get("content-type"));
    exchange.retryAfter = response.headers.get("retry-after");
    if (options.readFields) {
      exchange.fields = pickFields(
        await response
          .clone()
          .text()
          .catch(() => ""),
      );
    }
    return response;
  };
  return { fetch, exchanges };
}
