import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { decodeJwt } from "jose";

/**
 * The dev issuer as an OpenID Connect provider for the admin app: discovery, an authorization
 * endpoint whose sign-in page lists a dev operator and a dev viewer (buttons, no password —
 * loopback development only), a token endpoint (authorization code with PKCE S256 and the
 * client's secret, refresh tokens) and an end-session endpoint. Registered clients only, exact
 * redirect URIs.
 */
export interface DevOidcClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  /** Lifetime of the access tokens issued to this client (default 3600 s). */
  accessTokenSeconds?: number;
  /**
   * Each refresh answers with a new refresh token and the used one stops working, as providers
   * that rotate them do (a client that refreshes twice with one token is refused the second time).
   */
  rotateRefreshTokens?: boolean;
  /** Sees every token issued to this client (tests that look for them where they must not be). */
  onTokens?: (issued: { accessToken: string; refreshToken?: string; idToken?: string }) => void;
}

export const DEV_ACCOUNTS = {
  "dev-operator": { label: "dev operator", role: "operator" },
  "dev-viewer": { label: "dev viewer", role: "viewer" },
} as const;
type Account = keyof typeof DEV_ACCOUNTS;

export interface DevOidcDeps {
  issuer(): string;
  /** The api's access token for an account (the issuer's `mint`, audience the api accepts). */
  accessToken(sub: Account, role: "viewer" | "operator", lifetimeSeconds: number): Promise<string>;
  /** Signs an ID token: `payload` holds every claim but `iss`, `iat`. */
  idToken(
    payload: Record<string, unknown>,
    audience: string,
    lifetimeSeconds: number,
  ): Promise<string>;
}

interface Grant {
  clientId: string;
  account: Account;
  redirectUri: string;
  codeChallenge: string;
  nonce: string | null;
  authTime: number;
  expiresAt: number;
}

const CODE_LIFETIME_MS = 60_000;
const MAX_GRANTS = 1000;
const random = () => randomBytes(32).toString("base64url");
const sha256 = (text: string) => createHash("sha256").update(text).digest("base64url");

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (char) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[char] ?? "",
  );

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers: { "cache-control": "no-store", ...headers } });

const oauthError = (error: string, description: string, status = 400) =>
  json(
    { error, error_description: description },
    status,
    status === 401 ? { "www-authenticate": 'Basic realm="dev issuer"' } : {},
  );

function page(title: string, body: string, formTarget: string | null, status = 200) {
  const formAction = formTarget ? `'self' ${formTarget}` : "'self'";
  return new Response(
    `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(title)}</title>
  </head>
  <body>
    <main>
      <h1>${escapeHtml(title)}</h1>
${body}
    </main>
  </body>
</html>`,
    {
      status,
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        // The form posts here and is redirected to the client: both must be allowed.
        "content-security-policy": `default-src 'none'; form-action ${formAction}; base-uri 'none'; frame-ancestors 'none'`,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      },
    },
  );
}

export function createDevOidc(deps: DevOidcDeps) {
  const clients = new Map<string, DevOidcClient>();
  const codes = new Map<string, Grant>();
  const refreshTokens = new Map<string, { clientId: string; account: Account }>();

  const metadata = () => {
    const issuer = deps.issuer();
    return {
      issuer,
      authorization_endpoint: `${issuer}/oidc/authorize`,
      token_endpoint: `${issuer}/oidc/token`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      end_session_endpoint: `${issuer}/oidc/logout`,
      response_types_supported: ["code"],
      grant_types_supported: ["authorization_code", "refresh_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["RS256"],
      code_challenge_methods_supported: ["S256"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      scopes_supported: ["openid"],
      claims_supported: ["sub", "roles", "nonce", "auth_time"],
      authorization_response_iss_parameter_supported: true,
    };
  };

  /** The client and redirect URI of an authorization request, or why there is none. */
  function clientOf(params: URLSearchParams): { client: DevOidcClient; redirectUri: URL } | string {
    const client = clients.get(params.get("client_id") ?? "");
    const redirectUri = params.get("redirect_uri") ?? "";
    if (!client) return "unknown client_id";
    if (!client.redirectUris.includes(redirectUri)) return "redirect_uri is not registered";
    return { client, redirectUri: new URL(redirectUri) };
  }

  /** Checks the rest of an authorization request; the error goes back to the client. */
  function requestProblem(params: URLSearchParams): string | null {
    if (params.get("response_type") !== "code") return "response_type must be code";
    if (!(params.get("scope") ?? "").split(" ").includes("openid")) return "scope must hold openid";
    if (params.get("code_challenge_method") !== "S256") return "PKCE with S256 is required";
    if (!/^[A-Za-z0-9_-]{43,128}$/.test(params.get("code_challenge") ?? ""))
      return "code_challenge is missing or malformed";
    return null;
  }

  function backToClient(redirectUri: URL, params: URLSearchParams, fields: Record<string, string>) {
    const target = new URL(redirectUri);
    for (const [key, value] of Object.entries(fields)) target.searchParams.set(key, value);
    const state = params.get("state");
    if (state) target.searchParams.set("state", state);
    target.searchParams.set("iss", deps.issuer());
    return new Response(null, {
      status: 303,
      headers: { location: target.href, "cache-control": "no-store" },
    });
  }

  const AUTH_FIELDS = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
  ] as const;

  function signInPage(params: URLSearchParams, redirectUri: URL) {
    const hidden = AUTH_FIELDS.filter((name) => params.has(name))
      .map(
        (name) =>
          `        <input type="hidden" name="${name}" value="${escapeHtml(params.get(name) ?? "")}" />`,
      )
      .join("\n");
    const buttons = Object.entries(DEV_ACCOUNTS)
      .map(
        ([account, { label, role }]) =>
          `        <p><button type="submit" name="account" value="${account}">Sign in as ${label}</button> (${account}, role propgate:${role})</p>`,
      )
      .join("\n");
    return page(
      "Dev issuer: sign in",
      `      <p>Development only: pick an account for ${escapeHtml(redirectUri.origin)}. No password.</p>
      <form method="post" action="/oidc/authorize">
${hidden}
${buttons}
      </form>`,
      redirectUri.origin,
    );
  }

  async function authorize(request: Request, url: URL): Promise<Response> {
    const params =
      request.method === "POST" ? new URLSearchParams(await request.text()) : url.searchParams;
    const found = clientOf(params);
    // Never redirect to a URI that is not the client's own.
    if (typeof found === "string")
      return page(
        "Dev issuer: bad sign-in request",
        `      <p>${escapeHtml(found)}.</p>`,
        null,
        400,
      );
    const problem = requestProblem(params);
    if (problem)
      return backToClient(found.redirectUri, params, {
        error: "invalid_request",
        error_description: problem,
      });
    if (request.method === "GET") return signInPage(params, found.redirectUri);

    const account = params.get("account");
    if (account !== "dev-operator" && account !== "dev-viewer")
      return backToClient(found.redirectUri, params, { error: "access_denied" });
    if (codes.size >= MAX_GRANTS) codes.clear();
    const code = random();
    codes.set(code, {
      clientId: found.client.clientId,
      account,
      redirectUri: found.redirectUri.href,
      codeChallenge: params.get("code_challenge") ?? "",
      nonce: params.get("nonce"),
      authTime: Math.floor(Date.now() / 1000),
      expiresAt: Date.now() + CODE_LIFETIME_MS,
    });
    return backToClient(found.redirectUri, params, { code });
  }

  /** client_secret_basic (RFC 6749 §2.3.1: form-encoded id and secret) or client_secret_post. */
  function authenticate(request: Request, form: URLSearchParams): DevOidcClient | null {
    let id = form.get("client_id");
    let secret = form.get("client_secret");
    const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(request.headers.get("authorization") ?? "");
    if (basic?.[1]) {
      const decoded = Buffer.from(basic[1], "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      const unform = (text: string) => decodeURIComponent(text.replace(/\+/g, " "));
      try {
        id = unform(decoded.slice(0, colon));
        secret = unform(decoded.slice(colon + 1));
      } catch {
        return null;
      }
    }
    const client = clients.get(id ?? "");
    if (!client || secret === null || !same(secret, client.clientSecret)) return null;
    return client;
  }

  async function tokens(
    client: DevOidcClient,
    account: Account,
    idToken: Record<string, unknown> | null,
  ) {
    const lifetime = client.accessTokenSeconds ?? 3600;
    const accessToken = await deps.accessToken(account, DEV_ACCOUNTS[account].role, lifetime);
    const roles = decodeJwt(accessToken).roles;
    return {
      access_token: accessToken,
      token_type: "Bearer",
      expires_in: lifetime,
      scope: "openid",
      ...(idToken
        ? {
            id_token: await deps.idToken({ sub: account, roles, ...idToken }, client.clientId, 600),
          }
        : {}),
    };
  }

  function newRefreshToken(client: DevOidcClient, account: Account): string {
    const refreshToken = random();
    if (refreshTokens.size >= 10 * MAX_GRANTS) refreshTokens.clear();
    refreshTokens.set(refreshToken, { clientId: client.clientId, account });
    return refreshToken;
  }

  async function token(request: Request): Promise<Response> {
    if (
      !(request.headers.get("content-type") ?? "").startsWith("application/x-www-form-urlencoded")
    )
      return oauthError("invalid_request", "expected a form body");
    const form = new URLSearchParams(await request.text());
    const client = authenticate(request, form);
    if (!client) return oauthError("invalid_client", "unknown client or wrong secret", 401);
    const grantType = form.get("grant_type");
    if (grantType === "authorization_code") {
      const code = form.get("code") ?? "";
      const grant = codes.get(code);
      codes.delete(code); // single use
      if (!grant || grant.expiresAt < Date.now() || grant.clientId !== client.clientId)
        return oauthError("invalid_grant", "unknown, used or expired code");
      if (form.get("redirect_uri") !== grant.redirectUri)
        return oauthError("invalid_grant", "redirect_uri differs from the authorization request");
      const verifier = form.get("code_verifier") ?? "";
      if (
        !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) ||
        !same(sha256(verifier), grant.codeChallenge)
      )
        return oauthError("invalid_grant", "code_verifier does not match the code_challenge");
      const refreshToken = newRefreshToken(client, grant.account);
      const issued = await tokens(client, grant.account, {
        auth_time: grant.authTime,
        ...(grant.nonce ? { nonce: grant.nonce } : {}),
      });
      client.onTokens?.({
        accessToken: issued.access_token,
        refreshToken,
        idToken: issued.id_token,
      });
      return json({ ...issued, refresh_token: refreshToken });
    }
    if (grantType === "refresh_token") {
      const used = form.get("refresh_token") ?? "";
      const held = refreshTokens.get(used);
      if (!held || held.clientId !== client.clientId)
        return oauthError("invalid_grant", "unknown refresh token");
      const issued = await tokens(client, held.account, null);
      if (!client.rotateRefreshTokens) {
        client.onTokens?.({ accessToken: issued.access_token });
        return json(issued);
      }
      refreshTokens.delete(used);
      const refreshToken = newRefreshToken(client, held.account);
      client.onTokens?.({ accessToken: issued.access_token, refreshToken });
      return json({ ...issued, refresh_token: refreshToken });
    }
    return oauthError("unsupported_grant_type", "authorization_code or refresh_token");
  }

  /** RP-initiated logout: the dev issuer keeps no session of its own, so it only sends the browser back. */
  function logout(url: URL): Response {
    const client = clients.get(url.searchParams.get("client_id") ?? "");
    const back = url.searchParams.get("post_logout_redirect_uri") ?? "";
    if (client?.postLogoutRedirectUris?.includes(back)) {
      const target = new URL(back);
      const state = url.searchParams.get("state");
      if (state) target.searchParams.set("state", state);
      return new Response(null, { status: 303, headers: { location: target.href } });
    }
    return page("Dev issuer: signed out", "      <p>You are signed out.</p>", null);
  }

  return {
    registerClient(client: DevOidcClient) {
      clients.set(client.clientId, client);
    },
    /** The answer for an OIDC route, or null for a path that is not one. */
    async handle(request: Request, url: URL): Promise<Response | null> {
      const { pathname } = url;
      const method = request.method;
      if (
        method === "GET" &&
        (pathname === "/.well-known/openid-configuration" ||
          pathname === "/.well-known/oauth-authorization-server")
      )
        return json(metadata());
      if (pathname === "/oidc/authorize" && (method === "GET" || method === "POST"))
        return authorize(request, url);
      if (pathname === "/oidc/token" && method === "POST") return token(request);
      if (pathname === "/oidc/logout" && method === "GET") return logout(url);
      return null;
    },
  };
}
