import { createPropgateClient, PropgateError } from "@propgate/client";
import { t } from "./i18n/i18n.ts";

/**
 * The page's one client of the api's admin procedures (`@propgate/client` in session mode), via
 * this app's proxy. The page never holds a token: the browser sends the session cookie
 * (HttpOnly), the app adds the admin's access token on its side. Mutations carry the session's
 * CSRF token from `GET /auth/session`.
 */

interface SessionInfo {
  userId: string;
  roles: string[];
  csrfToken: string;
  expiresAt: string;
}

const SIGN_IN = "/auth/login";
let csrfToken = "";
let signingIn = false;

/**
 * To the sign-in page, once: a screen's calls run side by side (a resident's consents, journal
 * and keys), and each one's SESSION_REQUIRED starting the navigation again aborts the last.
 */
function signInAgain(): void {
  if (signingIn) return;
  signingIn = true;
  location.assign(SIGN_IN);
}

/** True when the admin app (not the api) refused for want of a session: sign in again. */
async function sessionOver(response: Response): Promise<boolean> {
  if (response.status !== 401) return false;
  const body = (await response.json().catch(() => null)) as { error?: { code?: unknown } } | null;
  return body?.error?.code === "SESSION_REQUIRED";
}

export async function fetchSession(): Promise<SessionInfo> {
  const response = await fetch("/auth/session", { credentials: "same-origin" });
  if (await sessionOver(response)) {
    signInAgain();
    throw new Error(t("app.signingInAgain"));
  }
  if (!response.ok)
    throw new Error(t("app.sessionUnreadable", { status: String(response.status) }));
  const session = (await response.json()) as SessionInfo;
  csrfToken = session.csrfToken;
  return session;
}

export const client = createPropgateClient({
  url: location.origin,
  credentials: "same-origin",
  headers: () => ({ "x-csrf-token": csrfToken }),
  onSessionRequired: signInAgain,
});

/** A refusal of this app's own JSON routes (`{ error: { code, message, requestId } }`). */
export class AppRouteError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly requestId: string | null,
  ) {
    super(message);
  }
}

/**
 * A GET of one of this app's own JSON routes (the overview's series), not the api's: the same
 * session cookie, sign-in again when it is over, the app's error body as an `AppRouteError`.
 */
export async function getAppJson(path: string): Promise<unknown> {
  const response = await fetch(path, { credentials: "same-origin" });
  if (await sessionOver(response.clone())) {
    signInAgain();
    throw new Error(t("app.signingInAgain"));
  }
  const body = (await response.json().catch(() => null)) as {
    error?: { code?: unknown; message?: unknown; requestId?: unknown };
  } | null;
  if (response.ok && body) return body;
  const error = body?.error;
  throw new AppRouteError(
    typeof error?.code === "string" ? error.code : `HTTP_${response.status}`,
    typeof error?.message === "string" ? error.message : `HTTP ${response.status}`,
    typeof error?.requestId === "string" ? error.requestId : null,
  );
}

/** Signs out here and, when the provider offers it, there too. */
export async function signOut(): Promise<void> {
  const response = await fetch("/auth/logout", {
    method: "POST",
    credentials: "same-origin",
    headers: { "x-csrf-token": csrfToken },
  });
  const body = (await response.json().catch(() => null)) as { location?: string } | null;
  if (!response.ok || typeof body?.location !== "string")
    throw new Error(t("app.signOutFailed", { status: String(response.status) }));
  location.assign(body.location);
}

type Admin = typeof client.admin;
export type ResidentView = Awaited<ReturnType<Admin["residents"]["get"]["query"]>>;
export type FoundResident = Awaited<
  ReturnType<Admin["residents"]["find"]["query"]>
>["residents"][number];
export type Consent = ResidentView["consents"][number];
export type Erasure = ResidentView["erasures"][number];
export type VideoSession = ResidentView["videoSessions"][number];
export type AuditQuery = Parameters<Admin["audit"]["list"]["query"]>[0];
export type AuditPage = Awaited<ReturnType<Admin["audit"]["list"]["query"]>>;
export type AuditVerdict = Awaited<ReturnType<Admin["audit"]["verify"]["query"]>>;
export type Block = Awaited<ReturnType<Admin["blocks"]["list"]["query"]>>[number];
export type Anomaly = Awaited<ReturnType<Admin["anomalies"]["list"]["query"]>>[number];
export type HealthReport = Awaited<ReturnType<Admin["partners"]["health"]["query"]>>;
export type VpnEvent = Awaited<ReturnType<Admin["vpn"]["events"]["query"]>>[number];
export type Device = Awaited<ReturnType<Admin["devices"]["list"]["query"]>>[number];
export type GuestKey = Awaited<ReturnType<Admin["keys"]["list"]["query"]>>[number];
export type JournalPage = Awaited<ReturnType<Admin["journal"]["list"]["query"]>>;
export type WebhookOutboxPage = Awaited<ReturnType<Admin["webhookOutbox"]["list"]["query"]>>;

/** What an error box shows: the api's `cause.code`, its message and request id; never a stack. */
export interface ShownError {
  code: string;
  message: string;
  requestId: string | null;
  /** Which input was refused and why (the api's zod issues). */
  issues: string[];
}

/** The client's errors carry the api's cause and the app's own refusals (CSRF, no session, …). */
export function describeError(error: unknown): ShownError {
  if (error instanceof PropgateError) {
    return {
      code: error.code,
      message: error.message,
      requestId: error.requestId,
      issues: error.issues.map((issue) =>
        issue.path ? `${issue.path}: ${issue.message}` : issue.message,
      ),
    };
  }
  return {
    code: "ERROR",
    message: error instanceof Error ? error.message : String(error),
    requestId: null,
    issues: [],
  };
}
