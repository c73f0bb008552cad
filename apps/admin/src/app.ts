/// <reference path="./text-imports.d.ts" />
import type { GatewayErrorCode } from "@propgate/client";
import { bundlePageScript } from "@propgate/client/page-script";
import { type Database, isDatabaseUnavailable } from "@propgate/consent-audit";
import type { ErrorCode } from "@propgate/domain";
import type { Context } from "hono";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getCookie } from "hono/cookie";
// uPlot's stylesheet, served first in /admin.css (a text import: a compiled binary embeds it).
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import { z } from "zod";
import { LANGUAGE_COOKIE, noticeLanguage, noticePage } from "./notices.ts";
import { createOidcClient, type OidcClient, signInFailure } from "./oidc.ts";
import { OVERVIEW_PANEL_IDS, OVERVIEW_RANGE_NAMES, overviewPanel } from "./overview/panels.ts";
import { PrometheusError, panelSeries } from "./overview/prometheus.ts";
import { processSecret } from "./seal.ts";
import {
  cookieHeader,
  cookieName,
  createSessionStore,
  type Session,
  type SessionStore,
  sameSecret,
} from "./session.ts";
import { createSignInCookie } from "./sign-in-cookie.ts";

export interface AdminAppOptions {
  /** Origin of the api; only `/trpc/admin.*` calls are forwarded there. */
  apiUrl: URL;
  /** This app's public origin (ADMIN_URL): redirect URI, the expected `Origin` of mutations. */
  publicUrl: URL;
  oidc: {
    issuer: URL;
    clientId: string;
    clientSecret: string;
    /** Plain http to a loopback provider (development only). */
    allowInsecureRequests: boolean;
  };
  session: {
    idleSeconds: number;
    maxSeconds: number;
    /**
     * ADMIN_SESSION_SECRET_FILE's content, the same on every replica: the keys of the sealed
     * sign-in cookie and of the sessions' tokens at rest. Without it (null or absent, development
     * only) each process makes a random one: its sessions and sign-ins are its own.
     */
    secret?: string | null;
  };
  /** Where the sessions live (`admin_sessions`), shared by every replica. */
  database: Database;
  /**
   * Prometheus's HTTP API, read for the operations overview (PROMETHEUS_URL); null or absent:
   * the overview says it is not set up.
   */
  prometheusUrl?: URL | null;
  /** Cookies carry `Secure` unless this is false (plain http on loopback in development). */
  secureCookies: boolean;
  /** How to reach the api and the provider (tests may pass their own); the global fetch by default. */
  fetch?: typeof fetch;
  now?: () => number;
  /** One line per failed sign-in or refresh (a reason code, never a token); console.warn by default. */
  warn?: (line: string) => void;
}

export interface AdminApp {
  app: Hono;
  sessions: SessionStore;
  stop(): void;
}

const PAGE_DIR = `${import.meta.dir}/page`;

/** One admin procedure per call (httpLink never batches), e.g. `admin.consents.list`. */
const ADMIN_PROCEDURE = /^admin(\.[A-Za-z]{1,64}){1,4}$/;

/** The api's answer headers the proxy passes on (besides `content-type`). */
const FORWARDED_HEADERS = ["x-request-id", "retry-after", "ratelimit", "ratelimit-policy"];

const SESSION_COOKIE = "propgate-admin";
/**
 * The browser's sign-ins under way, sealed (`sign-in-cookie.ts`); Lax, so the provider's
 * top-level redirect back to the callback carries it.
 */
const LOGIN_COOKIE = "propgate-admin-login";
const SIGN_IN_TTL_MS = 10 * 60_000;
/** An access token this close to its expiry is refreshed before it is sent. */
const REFRESH_MARGIN_MS = 30_000;
/** How long a client waits before trying again when the sessions' database does not answer. */
const UNAVAILABLE_RETRY_SECONDS = 2;

/** Overview reads under way in this process at most: each holds up to one Prometheus query per line. */
const MAX_OVERVIEW_READS = 12;

const overviewInput = z.object({
  panel: z.enum(OVERVIEW_PANEL_IDS),
  range: z.enum(OVERVIEW_RANGE_NAMES),
});

/** The roles that may read (as the api's `admin.*` reads: viewer, operator, the older admin). */
const READER_ROLES = ["propgate:viewer", "propgate:operator", "propgate:admin"];

/** The provider refused a refresh (or there is no refresh token): the session is over. */
class RenewalRefused extends Error {}

/**
 * The page's script and style are files of this origin: no inline script or style anywhere.
 * Sent on every response, pages and JSON alike.
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** The page's stylesheet as served: uPlot's (the overview's charts) first, then the page's own. */
export async function adminStylesheet(): Promise<string> {
  return `${uplotCss}\n${await Bun.file(`${PAGE_DIR}/admin.css`).text()}`;
}

/** The page script for the browser, bundled from `src/page/page.ts`. */
export function bundleAdminPage(): Promise<string> {
  return bundlePageScript(`${PAGE_DIR}/page.ts`);
}

let bundle: Promise<string> | null = null;

/**
 * The page script, made once on first use. A compiled binary (the image) holds no sources to
 * bundle: its build embeds the bundle as `page/admin.js` beside the page's files, which sit
 * where `PAGE_DIR` points inside the binary (infra/image/README.md, "Inside the binary").
 */
function pageScript(): Promise<string> {
  bundle ??= Bun.isStandaloneExecutable
    ? Bun.file(`${PAGE_DIR}/admin.js`).text()
    : bundleAdminPage();
  return bundle;
}

type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 413 | 429 | 500 | 502 | 503;

/** The overview's own refusals, read by its screen (page/overview.ts), not by the api's client. */
type OverviewErrorCode = "PROMETHEUS_UNAVAILABLE" | "OVERVIEW_BUSY";

/** The page's client reads these codes (`PropgateError.code`): a new one is added there too. */
function errorBody(
  c: Context,
  status: ErrorStatus,
  code: GatewayErrorCode | ErrorCode | OverviewErrorCode,
  message: string,
) {
  return c.json({ error: { code, message, requestId: crypto.randomUUID() } }, status);
}

/**
 * The admin web app: OpenID Connect sign-in, server-side sessions, the page, and a proxy that
 * calls the api's admin procedures with the session's access token.
 */
export function createAdminApp(options: AdminAppOptions): AdminApp {
  const forward = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const warn = options.warn ?? ((line: string) => console.warn(line));
  const apiOrigin = options.apiUrl.origin;
  const origin = options.publicUrl.origin;
  const secure = options.secureCookies;
  const oidc: OidcClient = createOidcClient({
    ...options.oidc,
    redirectUri: `${origin}/auth/callback`,
    postLogoutRedirectUri: `${origin}/auth/signed-out`,
    fetch: options.fetch,
    now,
  });
  const secret = options.session.secret ?? processSecret();
  const sessions = createSessionStore({
    db: options.database,
    secret,
    idleMs: options.session.idleSeconds * 1000,
    absoluteMs: options.session.maxSeconds * 1000,
    now,
    warn,
  });
  const signIns = createSignInCookie({ secret, ttlMs: SIGN_IN_TTL_MS, now });
  /** Renewals under way in this process, by session id (other replicas wait on the row's lock). */
  const refreshing = new Map<string, Promise<Session | null>>();

  const sessionCookie = (value: string, maxAge: number) =>
    cookieHeader(SESSION_COOKIE, value, { secure, sameSite: "Strict", maxAge });
  const languageOf = (c: Context) => noticeLanguage(getCookie(c, LANGUAGE_COOKIE));
  const sessionId = (c: Context) => getCookie(c, cookieName(SESSION_COOKIE, secure));
  const loginCookie = (value: string, maxAge: number) =>
    cookieHeader(LOGIN_COOKIE, value, { secure, sameSite: "Lax", maxAge });
  const loginCookieValue = (c: Context) => getCookie(c, cookieName(LOGIN_COOKIE, secure));
  const currentSession = (c: Context) => sessions.touch(sessionId(c));
  const needsRenewal = (session: Session) =>
    now() >= session.accessTokenExpiresAt - REFRESH_MARGIN_MS;

  /**
   * The session with a fresh enough access token, renewed with the refresh token when the
   * provider gave one; null when it cannot be (the session is over). Renewed once per session
   * at a time: here by `refreshing`, across replicas by the row's lock, after which the
   * replica that waited finds the new token and renews nothing.
   */
  function freshSession(id: string, session: Session): Promise<Session | null> {
    if (!needsRenewal(session)) return Promise.resolve(session);
    let inflight = refreshing.get(id);
    if (!inflight) {
      inflight = sessions
        .renew(id, async (stored) => {
          if (!needsRenewal(stored)) return null;
          if (!stored.refreshToken) throw new RenewalRefused();
          try {
            return await oidc.refresh(stored.refreshToken);
          } catch (error) {
            warn(`admin session refresh failed: ${signInFailure(error)}`);
            throw new RenewalRefused();
          }
        })
        .catch((error: unknown) => {
          if (error instanceof RenewalRefused) return null;
          throw error; // the database's: answered as unavailable, the session kept
        })
        .finally(() => refreshing.delete(id));
      refreshing.set(id, inflight);
    }
    return inflight;
  }

  /**
   * A mutation must come from this app's own page: same-origin by `Origin` (and by
   * `Sec-Fetch-Site` when the browser sends it) and carrying the session's CSRF token.
   */
  function refuseMutation(c: Context, session: Session): Response | null {
    const site = c.req.header("sec-fetch-site");
    if (site !== undefined && site !== "same-origin")
      return errorBody(c, 403, "CSRF_REJECTED", "cross-site requests are refused");
    if (c.req.header("origin") !== origin)
      return errorBody(c, 403, "CSRF_REJECTED", "the request's Origin is not this app");
    if (!sameSecret(c.req.header("x-csrf-token"), session.csrfToken))
      return errorBody(c, 403, "CSRF_REJECTED", "a valid x-csrf-token header is required");
    return null;
  }

  const sessionRequired = (c: Context) =>
    errorBody(c, 401, "SESSION_REQUIRED", "sign in first (the session is missing or over)");

  const app = new Hono();

  app.use("*", async (c, next) => {
    await next();
    c.header("content-security-policy", CSP);
    c.header("x-content-type-options", "nosniff");
    c.header("x-frame-options", "DENY");
    c.header("referrer-policy", "no-referrer");
    c.header("cache-control", "no-store");
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    // Ready when the sessions' table answers within a second, as the api's /readyz.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ready = await Promise.race([
      sessions.ready().then(
        () => true,
        () => false,
      ),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), 1000);
      }),
    ]);
    clearTimeout(timer);
    if (ready) return c.json({ status: "ready" });
    return c.json({ status: "not_ready", reason: "database unreachable" }, 503);
  });

  app.get("/", async (c) => {
    if (!(await currentSession(c))) return c.redirect("/auth/login", 302);
    return c.html(await Bun.file(`${PAGE_DIR}/index.html`).text());
  });
  app.get("/admin.js", async (c) => {
    c.header("content-type", "text/javascript; charset=utf-8");
    return c.body(await pageScript());
  });
  app.get("/admin.css", async (c) => {
    c.header("content-type", "text/css; charset=utf-8");
    return c.body(await adminStylesheet());
  });

  /**
   * The operations overview's series (page/overview.ts): one panel of `overview/panels.ts` over
   * the last hour or day, read from Prometheus here so the browser never talks to it.
   */
  let overviewReads = 0;
  app.get("/overview/series", async (c) => {
    const session = await currentSession(c);
    if (!session) return sessionRequired(c);
    const site = c.req.header("sec-fetch-site");
    if (site !== undefined && site !== "same-origin")
      return errorBody(c, 403, "CSRF_REJECTED", "cross-site requests are refused");
    if (!session.roles.some((role) => READER_ROLES.includes(role)))
      return errorBody(c, 403, "FORBIDDEN", "the overview needs the propgate:viewer role");
    const input = overviewInput.safeParse(c.req.query());
    if (!input.success)
      return errorBody(
        c,
        400,
        "INVALID_INPUT",
        `panel must be one of ${OVERVIEW_PANEL_IDS.join(", ")}; range one of ${OVERVIEW_RANGE_NAMES.join(", ")}`,
      );
    const panel = overviewPanel(input.data.panel);
    if (!options.prometheusUrl || !panel) return c.json({ configured: false });
    if (overviewReads >= MAX_OVERVIEW_READS) {
      c.header("retry-after", "1");
      return errorBody(c, 429, "OVERVIEW_BUSY", "too many overview reads at once; try again");
    }
    overviewReads += 1;
    try {
      const read = await panelSeries(
        { url: options.prometheusUrl, fetch: options.fetch, now },
        panel,
        input.data.range,
      );
      return c.json({ configured: true, ...read });
    } catch (error) {
      if (!(error instanceof PrometheusError)) throw error;
      warn(`overview: ${error.message}`);
      return errorBody(c, 502, "PROMETHEUS_UNAVAILABLE", error.message);
    } finally {
      overviewReads -= 1;
    }
  });

  app.get("/auth/login", async (c) => {
    let started: Awaited<ReturnType<OidcClient["startSignIn"]>>;
    try {
      started = await oidc.startSignIn();
    } catch (error) {
      warn(`admin sign-in could not start: ${signInFailure(error)}`);
      return c.html(noticePage("unavailable", languageOf(c), "/auth/login"), 503);
    }
    const sealed = signIns.add(loginCookieValue(c), started.pending);
    c.header("set-cookie", loginCookie(sealed, SIGN_IN_TTL_MS / 1000));
    return c.redirect(started.url.href, 302);
  });

  app.get("/auth/callback", async (c) => {
    const url = new URL(c.req.url);
    const taken = signIns.take(loginCookieValue(c), url.searchParams.get("state") ?? "");
    if (!taken) return c.html(noticePage("not_recognised", languageOf(c), "/auth/login"), 400);
    // Used once, whatever comes next (the provider's code is single use too).
    c.header("set-cookie", loginCookie(taken.rest ?? "", taken.rest ? SIGN_IN_TTL_MS / 1000 : 0));
    let signedIn: Awaited<ReturnType<OidcClient["finishSignIn"]>>;
    try {
      signedIn = await oidc.finishSignIn(
        new URL(`${url.pathname}${url.search}`, origin),
        taken.signIn,
      );
    } catch (error) {
      const reason = signInFailure(error);
      warn(`admin sign-in failed: ${reason}`);
      return c.html(noticePage("failed", languageOf(c), "/auth/login", { reason }), 400);
    }
    await sessions.delete(sessionId(c)); // a new id for every sign-in (no session fixation)
    const { id } = await sessions.create(signedIn);
    c.header("set-cookie", sessionCookie(id, options.session.maxSeconds), { append: true });
    // A page, not a redirect: after the provider's cross-site redirect the browser would not send
    // the SameSite=Strict cookie with a redirect's request; it does with this page's navigation.
    return c.html(
      noticePage("signed_in", languageOf(c), "/", {
        head: `
    <meta http-equiv="refresh" content="0;url=/" />`,
      }),
    );
  });

  app.get("/auth/session", async (c) => {
    const session = await currentSession(c);
    if (!session) return sessionRequired(c);
    return c.json({
      userId: session.userId,
      roles: session.roles,
      csrfToken: session.csrfToken,
      expiresAt: new Date(sessions.endsAt(session)).toISOString(),
    });
  });

  app.post("/auth/logout", async (c) => {
    const id = sessionId(c);
    const session = await sessions.touch(id);
    if (session) {
      const refused = refuseMutation(c, session);
      if (refused) return refused;
      await sessions.delete(id); // on every replica at once: each reads the sessions' table
    }
    c.header("set-cookie", sessionCookie("", 0));
    const endSession = await oidc.endSessionUrl(session?.idToken ?? null);
    return c.json({ location: endSession?.href ?? "/auth/signed-out" });
  });

  app.get("/auth/signed-out", (c) =>
    c.html(noticePage("signed_out", languageOf(c), "/auth/login")),
  );

  app.all(
    "/trpc/:procedure",
    bodyLimit({
      maxSize: 64 * 1024,
      onError: (c) => errorBody(c, 413, "PAYLOAD_TOO_LARGE", "request body too large"),
    }),
    async (c) => {
      const procedure = c.req.param("procedure");
      if (!ADMIN_PROCEDURE.test(procedure)) return errorBody(c, 404, "NOT_FOUND", "not found");
      const method = c.req.method;
      if (method !== "GET" && method !== "POST") {
        return errorBody(c, 405, "METHOD_NOT_ALLOWED", "only GET and POST are proxied");
      }
      const id = sessionId(c);
      const session = await sessions.touch(id);
      if (!session || id === undefined) return sessionRequired(c);
      if (method === "POST") {
        const refused = refuseMutation(c, session);
        if (refused) return refused;
      } else {
        const site = c.req.header("sec-fetch-site");
        if (site !== undefined && site !== "same-origin" && site !== "none")
          return errorBody(c, 403, "CSRF_REJECTED", "cross-site requests are refused");
      }
      const fresh = await freshSession(id, session);
      if (!fresh) {
        await sessions.delete(id);
        return sessionRequired(c);
      }
      const target = new URL(`/trpc/${procedure}`, apiOrigin);
      target.search = new URL(c.req.url).search;
      const headers = new Headers({ authorization: `Bearer ${fresh.accessToken}` });
      if (method === "POST") headers.set("content-type", "application/json");
      let upstream: Response;
      try {
        upstream = await forward(target, {
          method,
          headers,
          body: method === "POST" ? await c.req.arrayBuffer() : undefined,
          redirect: "manual",
        });
      } catch {
        return errorBody(c, 502, "API_UNREACHABLE", "the api could not be reached");
      }
      const responseHeaders = new Headers({
        "content-type": upstream.headers.get("content-type") ?? "application/json",
      });
      // When to come back (a 429 or 503) and the api's rate-limit fields, for the page's client.
      for (const name of FORWARDED_HEADERS) {
        const value = upstream.headers.get(name);
        if (value) responseHeaders.set(name, value);
      }
      return new Response(upstream.body, { status: upstream.status, headers: responseHeaders });
    },
  );

  app.notFound((c) => errorBody(c, 404, "NOT_FOUND", "not found"));
  app.onError((error, c) => {
    if (!isDatabaseUnavailable(error)) return errorBody(c, 500, "INTERNAL", "internal error");
    // Sessions live in the database: without it nobody can be told apart, so come back soon.
    c.header("retry-after", String(UNAVAILABLE_RETRY_SECONDS));
    return errorBody(c, 503, "UNAVAILABLE", "the admin app's database does not answer; try again");
  });
  return { app, sessions, stop: () => sessions.stop() };
}
