import { type Logger, type Metrics, TRACING_OFF, type Tracing } from "@propgate/observability";
import * as oauth from "oauth4webapi";
import type { PartnerScope } from "./contract.ts";
import { PartnerUnavailableError } from "./errors.ts";
import type { PartnerFetch } from "./transport.ts";

export interface TokenSourceOptions {
  partner: string;
  /**
   * The issuer, discovered once (RFC 8414, else OpenID Connect discovery); or give `tokenUrl` to
   * skip discovery.
   */
  issuer: URL | null;
  tokenUrl: URL | null;
  clientId: string;
  clientSecret: string;
  authMethod?: "client_secret_basic" | "client_secret_post";
  fetch: PartnerFetch;
  /** Plain http to a loopback token endpoint (dev/test only; the config refuses it elsewhere). */
  allowInsecureLoopback?: boolean;
  /** Deadline of one token request. */
  requestTimeoutMs?: number;
  /** First and largest pause after a failed token request; doubled per failure, jittered. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  now?: () => number;
  metrics?: Metrics;
  logger?: Logger;
  /** A span per token request (not per cached answer); off when absent. */
  tracing?: Tracing;
}

export interface DiscoveryOptions {
  fetch: PartnerFetch;
  /** Plain http to a loopback issuer (dev/test only; the config refuses it elsewhere). */
  allowInsecureLoopback?: boolean;
  /** Deadline of each metadata request. */
  requestTimeoutMs: number;
}

/**
 * The issuer's authorization server metadata: RFC 8414's `/.well-known/oauth-authorization-server`
 * first, then OpenID Connect discovery's `/.well-known/openid-configuration`, which many identity
 * servers serve instead. Only a 4xx (nothing served there) moves on to the second; a 5xx, no
 * answer, or metadata naming another issuer fails at once, as oauth4webapi judges it.
 */
export async function discoverAuthorizationServer(
  issuer: URL,
  options: DiscoveryOptions,
): Promise<oauth.AuthorizationServer> {
  const request = (algorithm: "oauth2" | "oidc") =>
    oauth.discoveryRequest(issuer, {
      [oauth.customFetch]: options.fetch,
      [oauth.allowInsecureRequests]: options.allowInsecureLoopback === true,
      algorithm,
      signal: AbortSignal.timeout(options.requestTimeoutMs),
    });
  const rfc8414 = await request("oauth2");
  if (rfc8414.status < 400 || rfc8414.status >= 500)
    return oauth.processDiscoveryResponse(issuer, rfc8414);
  await rfc8414.body?.cancel();
  return oauth.processDiscoveryResponse(issuer, await request("oidc"));
}

export interface TokenSource {
  /**
   * A valid access token for exactly these scopes. `rejected` is a token the partner answered
   * 401 to: it is dropped and a new one fetched (unless another caller already replaced it).
   */
  getToken(scopes: readonly PartnerScope[], options?: { rejected?: string }): Promise<string>;
}

interface CachedToken {
  accessToken: string;
  expiresAt: number;
  refreshAt: number;
}

interface Entry {
  token: CachedToken | null;
  inflight: Promise<CachedToken> | null;
  failures: number;
  retryAt: number;
}

const DEFAULT_LIFETIME_S = 300;
const EXPIRY_MARGIN_MS = 1000;

/**
 * When to refresh: max(60 s, 10 % of the lifetime) before expiry, but never more than half the
 * lifetime, so short-lived tokens are still reused for a while.
 */
export function refreshSkewMs(lifetimeMs: number): number {
  return Math.min(Math.max(60_000, lifetimeMs * 0.1), lifetimeMs / 2);
}

export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const now = options.now ?? Date.now;
  const requestTimeoutMs = options.requestTimeoutMs ?? 5000;
  const backoffInitialMs = options.backoffInitialMs ?? 1000;
  // At most 10 s between attempts: a token endpoint that is back is used again within that.
  const backoffMaxMs = options.backoffMaxMs ?? 10_000;
  const client: oauth.Client = { client_id: options.clientId };
  const clientAuth =
    options.authMethod === "client_secret_post"
      ? oauth.ClientSecretPost(options.clientSecret)
      : oauth.ClientSecretBasic(options.clientSecret);
  const httpOptions = {
    [oauth.customFetch]: options.fetch,
    [oauth.allowInsecureRequests]: options.allowInsecureLoopback === true,
  };
  const entries = new Map<string, Entry>();
  let metadata: Promise<oauth.AuthorizationServer> | null = null;

  function authorizationServer(): Promise<oauth.AuthorizationServer> {
    if (options.tokenUrl) {
      return Promise.resolve({
        issuer: options.issuer?.href ?? options.tokenUrl.origin,
        token_endpoint: options.tokenUrl.href,
      });
    }
    metadata ??= discoverAuthorizationServer(options.issuer as URL, {
      fetch: options.fetch,
      allowInsecureLoopback: options.allowInsecureLoopback,
      requestTimeoutMs,
    }).catch((error: unknown) => {
      metadata = null; // discover again next time
      throw error;
    });
    return metadata;
  }

  async function requestToken(scope: string): Promise<CachedToken> {
    const as = await authorizationServer();
    // Lifetime counts from before the request, less a second for issuers that round `iat` down.
    const sentAt = now() - EXPIRY_MARGIN_MS;
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      clientAuth,
      { scope },
      { ...httpOptions, signal: AbortSignal.timeout(requestTimeoutMs) },
    );
    const result = await oauth.processClientCredentialsResponse(as, client, response);
    if (result.token_type.toLowerCase() !== "bearer") {
      throw new Error(`unexpected token_type ${result.token_type.slice(0, 20)}`);
    }
    const lifetimeMs = (result.expires_in ?? DEFAULT_LIFETIME_S) * 1000;
    return {
      accessToken: result.access_token,
      expiresAt: sentAt + lifetimeMs,
      refreshAt: sentAt + lifetimeMs - refreshSkewMs(lifetimeMs),
    };
  }

  /** One token request in flight per scope set, however many callers wait on it. */
  function refresh(entry: Entry, scope: string): Promise<CachedToken> {
    if (entry.inflight) return entry.inflight;
    const started = now();
    const tracing = options.tracing ?? TRACING_OFF;
    entry.inflight = tracing
      .leaf("partner.token", { "propgate.partner": options.partner, "propgate.scope": scope }, () =>
        requestToken(scope),
      )
      .then((token) => {
        entry.token = token;
        entry.failures = 0;
        entry.retryAt = 0;
        options.metrics?.tokenRefresh.inc({ partner: options.partner, outcome: "success" });
        return token;
      })
      .catch((error: unknown) => {
        entry.failures += 1;
        const ceiling = Math.min(backoffMaxMs, backoffInitialMs * 2 ** (entry.failures - 1));
        entry.retryAt = now() + ceiling / 2 + Math.random() * (ceiling / 2);
        options.metrics?.tokenRefresh.inc({ partner: options.partner, outcome: "failure" });
        options.logger?.warn(
          {
            partner: options.partner,
            err: error,
            failures: entry.failures,
            tookMs: now() - started,
          },
          "partner token request failed",
        );
        throw new PartnerUnavailableError(`token endpoint of partner ${options.partner} failed`);
      })
      .finally(() => {
        entry.inflight = null;
      });
    return entry.inflight;
  }

  return {
    async getToken(scopes, getOptions = {}) {
      // A call names one scope: no set to build for it.
      const scope =
        scopes.length === 1 ? (scopes[0] as string) : [...new Set(scopes)].sort().join(" ");
      let entry = entries.get(scope);
      if (!entry) {
        entry = { token: null, inflight: null, failures: 0, retryAt: 0 };
        entries.set(scope, entry);
      }
      if (getOptions.rejected && entry.token?.accessToken === getOptions.rejected) {
        entry.token = null;
      }
      const token = entry.token;
      const at = now();
      if (token && at < token.refreshAt) return token.accessToken;
      if (token && at < token.expiresAt) {
        // In the refresh window: keep serving the current token while one caller refreshes.
        if (!entry.inflight && at >= entry.retryAt) refresh(entry, scope).catch(() => {});
        return token.accessToken;
      }
      if (!entry.inflight && at < entry.retryAt) {
        throw new PartnerUnavailableError(
          `token endpoint of partner ${options.partner} is failing; next try in ${Math.ceil((entry.retryAt - at) / 1000)} s`,
          Math.ceil((entry.retryAt - at) / 1000),
        );
      }
      return (await refresh(entry, scope)).accessToken;
    },
  };
}

/** The OAuth fields of one partner's settings (`PartnerSettings` of `@propgate/config`). */
export interface PartnerCredentials {
  name: string;
  issuer: URL | null;
  tokenUrl: URL | null;
  clientId: string;
  clientSecret: string;
}

/** The token source of one partner as its settings name it; `options` carry the rest. */
export function createPartnerTokenSource(
  settings: PartnerCredentials,
  options: Omit<
    TokenSourceOptions,
    "partner" | "issuer" | "tokenUrl" | "clientId" | "clientSecret"
  >,
): TokenSource {
  return createTokenSource({
    partner: settings.name,
    issuer: settings.issuer,
    tokenUrl: settings.tokenUrl,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    ...options,
  });
}
