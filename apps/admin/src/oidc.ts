import * as oauth from "oauth4webapi";

/**
 * The admin app as an OpenID Connect relying party (authorization code + PKCE S256, `state`,
 * `nonce`), all protocol checks by oauth4webapi: discovery, the authorization response (`state`,
 * `iss`), the token response and the ID token (issuer, audience, expiry, nonce, signature by the
 * provider's JWKS).
 */
export interface OidcOptions {
  issuer: URL;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** Where the provider sends the browser after RP-initiated logout. */
  postLogoutRedirectUri: string;
  /** Plain http to a loopback provider (development only). */
  allowInsecureRequests: boolean;
  fetch?: typeof fetch;
  requestTimeoutMs?: number;
  now?: () => number;
}

/** What the callback needs from the start of a sign-in; the browser keeps it sealed, unreadable. */
export interface PendingSignIn {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** What a sign-in yields; the session store keeps it (`session.ts`). */
export interface SignedIn {
  /** The provider's `sub` of the admin. */
  userId: string;
  /** The `roles` claim of the ID token, for display only (the api decides from the access token). */
  roles: string[];
  accessToken: string;
  /** Epoch ms; the access token is refreshed (or the session ends) before then. */
  accessTokenExpiresAt: number;
  refreshToken: string | null;
  /** Kept for RP-initiated logout (`id_token_hint`). */
  idToken: string | null;
}

export interface Refreshed {
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string | null;
}

export interface OidcClient {
  startSignIn(): Promise<{ url: URL; pending: PendingSignIn }>;
  finishSignIn(callbackUrl: URL, pending: PendingSignIn): Promise<SignedIn>;
  refresh(refreshToken: string): Promise<Refreshed>;
  /** The provider's end-session URL when it advertises one, else null. */
  endSessionUrl(idToken: string | null): Promise<URL | null>;
}

/** Access tokens without `expires_in` are taken to last this long. */
const DEFAULT_LIFETIME_S = 300;

/** Why a sign-in failed, as a short code for the page and the log (never a token or a claim value). */
export function signInFailure(error: unknown): string {
  if (error instanceof oauth.AuthorizationResponseError) return `provider said ${error.error}`;
  if (error instanceof oauth.ResponseBodyError) return `token endpoint said ${error.error}`;
  if (error instanceof oauth.OperationProcessingError) return error.code ?? "invalid response";
  if (error instanceof Error && error.name === "TimeoutError") return "provider timed out";
  return "provider unreachable";
}

function rolesOf(claims: oauth.IDToken): string[] {
  const roles = claims.roles;
  if (!Array.isArray(roles)) return [];
  return roles.filter((role): role is string => typeof role === "string").slice(0, 20);
}

export function createOidcClient(options: OidcOptions): OidcClient {
  const now = options.now ?? Date.now;
  const timeoutMs = options.requestTimeoutMs ?? 5000;
  const client: oauth.Client = { client_id: options.clientId };
  const clientAuth = oauth.ClientSecretBasic(options.clientSecret);
  const http = () => ({
    [oauth.allowInsecureRequests]: options.allowInsecureRequests,
    ...(options.fetch ? { [oauth.customFetch]: options.fetch } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });

  let metadata: Promise<oauth.AuthorizationServer> | null = null;
  function authorizationServer(): Promise<oauth.AuthorizationServer> {
    metadata ??= oauth
      .discoveryRequest(options.issuer, { ...http(), algorithm: "oidc" })
      .then((response) => oauth.processDiscoveryResponse(options.issuer, response))
      .then((as) => {
        if (!as.authorization_endpoint || !as.token_endpoint || !as.jwks_uri)
          throw new Error("the provider's discovery document lacks an endpoint");
        return as;
      })
      .catch((error: unknown) => {
        metadata = null; // discover again next time
        throw error;
      });
    return metadata;
  }

  const lifetimeFrom = (sentAt: number, expiresIn: number | undefined) =>
    sentAt + (expiresIn ?? DEFAULT_LIFETIME_S) * 1000;

  return {
    async startSignIn() {
      const as = await authorizationServer();
      const pending: PendingSignIn = {
        state: oauth.generateRandomState(),
        nonce: oauth.generateRandomNonce(),
        codeVerifier: oauth.generateRandomCodeVerifier(),
      };
      const url = new URL(as.authorization_endpoint as string);
      url.searchParams.set("response_type", "code");
      url.searchParams.set("client_id", options.clientId);
      url.searchParams.set("redirect_uri", options.redirectUri);
      url.searchParams.set("scope", "openid");
      url.searchParams.set("state", pending.state);
      url.searchParams.set("nonce", pending.nonce);
      url.searchParams.set(
        "code_challenge",
        await oauth.calculatePKCECodeChallenge(pending.codeVerifier),
      );
      url.searchParams.set("code_challenge_method", "S256");
      return { url, pending };
    },

    async finishSignIn(callbackUrl, pending) {
      const as = await authorizationServer();
      const parameters = oauth.validateAuthResponse(as, client, callbackUrl, pending.state);
      const sentAt = now();
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        client,
        clientAuth,
        parameters,
        options.redirectUri,
        pending.codeVerifier,
        http(),
      );
      const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
        expectedNonce: pending.nonce,
        requireIdToken: true,
      });
      // Not required over TLS from the token endpoint, but cheap: the ID token's signature too.
      await oauth.validateApplicationLevelSignature(as, response, http());
      if (result.token_type !== "bearer") throw new Error("unexpected token type");
      const claims = oauth.getValidatedIdTokenClaims(result);
      if (!claims) throw new Error("no ID token");
      return {
        userId: claims.sub,
        roles: rolesOf(claims),
        accessToken: result.access_token,
        accessTokenExpiresAt: lifetimeFrom(sentAt, result.expires_in),
        refreshToken: result.refresh_token ?? null,
        idToken: result.id_token ?? null,
      };
    },

    async refresh(refreshToken) {
      const as = await authorizationServer();
      const sentAt = now();
      const response = await oauth.refreshTokenGrantRequest(
        as,
        client,
        clientAuth,
        refreshToken,
        http(),
      );
      const result = await oauth.processRefreshTokenResponse(as, client, response);
      if (result.token_type !== "bearer") throw new Error("unexpected token type");
      return {
        accessToken: result.access_token,
        accessTokenExpiresAt: lifetimeFrom(sentAt, result.expires_in),
        // A provider that rotates refresh tokens sends a new one; else the old one stays good.
        refreshToken: result.refresh_token ?? refreshToken,
      };
    },

    async endSessionUrl(idToken) {
      const as = await authorizationServer().catch(() => null);
      if (!as?.end_session_endpoint) return null;
      const url = new URL(as.end_session_endpoint);
      url.searchParams.set("client_id", options.clientId);
      url.searchParams.set("post_logout_redirect_uri", options.postLogoutRedirectUri);
      if (idToken) url.searchParams.set("id_token_hint", idToken);
      return url;
    },
  };
}
