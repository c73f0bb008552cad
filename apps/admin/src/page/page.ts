import type { AppRouter } from "@propgate/api";
import { AUDIT_KINDS, type AuditKind } from "@propgate/domain";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";

/**
 * The admin page: a typed tRPC client of the api's admin procedures, via this app's proxy. The
 * page never holds a token: the browser sends the session cookie (HttpOnly), the app adds the
 * admin's access token on its side. Mutations carry the session's CSRF token.
 */

interface SessionInfo {
  userId: string;
  roles: string[];
  csrfToken: string;
  expiresAt: string;
}

const SIGN_IN = "/auth/login";
let csrfToken = "";

/** True when the admin app (not the api) refused for want of a session: sign in again. */
async function sessionOver(response: Response): Promise<boolean> {
  if (response.status !== 401) return false;
  const body = (await response
    .clone()
    .json()
    .catch(() => null)) as { error?: { code?: unknown } } | null;
  return body?.error?.code === "SESSION_REQUIRED";
}

async function fetchSession(): Promise<SessionInfo> {
  const response = await fetch("/auth/session", { credentials: "same-origin" });
  if (await sessionOver(response)) {
    location.assign(SIGN_IN);
    throw new Error("signing in again");
  }
  if (!response.ok) throw new Error(`the session could not be read (HTTP ${response.status})`);
  return (await response.json()) as SessionInfo;
}

function createClient() {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${location.origin}/trpc`,
        headers: () => ({ "x-csrf-token": csrfToken }),
        fetch: async (input, init) => {
          const response = await fetch(input, { ...init, credentials: "same-origin" });
          if (await sessionOver(response)) location.assign(SIGN_IN);
          return response;
        },
      }),
    ],
  });
}

const client = createClient();
type Client = typeof client;
type Consent = Awaited<ReturnType<Client["admin"]["consents"]["list"]["query"]>>[number];
type AuditEvent = Awaited<ReturnType<Client["admin"]["audit"]["list"]["query"]>>["rows"][number];
type Erasure = Awaited<ReturnType<Client["admin"]["erasures"]["list"]["query"]>>[number];
type Purpose = Consent["purpose"];

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`#${id} is missing from the page`);
  return found;
}

const ui = {
  signedIn: element("signed-in", HTMLParagraphElement),
  logout: element("logout", HTMLButtonElement),
  error: element("error", HTMLDivElement),
  status: element("status", HTMLParagraphElement),
  residentForm: element("resident-form", HTMLFormElement),
  residentId: element("resident-id", HTMLInputElement),
  consents: element("consents", HTMLTableElement),
  consentsCaption: element("consents-caption", HTMLTableCaptionElement),
  revokeForm: element("revoke-form", HTMLFormElement),
  revokeLegend: element("revoke-legend", HTMLLegendElement),
  revokeReason: element("revoke-reason", HTMLInputElement),
  revokeCancel: element("revoke-cancel", HTMLButtonElement),
  auditForm: element("audit-form", HTMLFormElement),
  auditUser: element("audit-user", HTMLInputElement),
  auditKind: element("audit-kind", HTMLInputElement),
  auditKinds: element("audit-kinds", HTMLDataListElement),
  verify: element("verify", HTMLButtonElement),
  verifyResult: element("verify-result", HTMLParagraphElement),
  audit: element("audit", HTMLTableElement),
  erasuresForm: element("erasures-form", HTMLFormElement),
  erasuresUser: element("erasures-user", HTMLInputElement),
  erasuresStatus: element("erasures-status", HTMLSelectElement),
  erasures: element("erasures", HTMLTableElement),
};

let shownUserId: string | null = null;
let revoking: Purpose | null = null;
/** Only operators see the buttons that act; the api checks the role again on every call. */
let canAct = false;

/** Until `admin.me` answers: the role from the session's `roles` claim (display only). */
function roleOf(roles: string[]): "operator" | "viewer" | null {
  if (roles.includes("propgate:operator") || roles.includes("propgate:admin")) return "operator";
  if (roles.includes("propgate:viewer")) return "viewer";
  return null;
}

function showSignedIn(userId: string, role: string | null) {
  const badge = document.createElement("span");
  badge.className = "role";
  badge.textContent = role ?? "no admin role";
  ui.signedIn.replaceChildren(`Signed in as ${userId} `, badge);
  ui.signedIn.dataset.user = userId;
  ui.signedIn.dataset.role = role ?? "";
}

/** The session (its CSRF token), then who the api says the admin is: `admin.me` decides the role. */
const ready = fetchSession().then(async (session) => {
  csrfToken = session.csrfToken;
  showSignedIn(session.userId, roleOf(session.roles));
  const me = await client.admin.me.query();
  canAct = me.role === "operator";
  showSignedIn(me.userId, me.role);
});

function showError(error: unknown) {
  let text = error instanceof Error ? error.message : String(error);
  if (error instanceof TRPCClientError) {
    const data = (error as TRPCClientError<AppRouter>).data;
    const code = data?.cause?.code ?? data?.code ?? "ERROR";
    text = `${code}: ${error.message}${data?.requestId ? ` (request ${data.requestId})` : ""}`;
  }
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
}

/** Runs one action, showing progress and any error; returns false when it failed. */
async function run(label: string, action: () => Promise<void>): Promise<boolean> {
  clearError();
  ui.status.textContent = `${label}…`;
  try {
    await ready;
    await action();
    ui.status.textContent = "";
    return true;
  } catch (error) {
    ui.status.textContent = "";
    showError(error);
    return false;
  }
}

function cell(text: string | number | null, className?: string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.textContent = text === null || text === "" ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

function fillBody(table: HTMLTableElement, rows: HTMLTableRowElement[], empty: string) {
  const body = table.tBodies[0] ?? table.createTBody();
  if (rows.length === 0) {
    const row = document.createElement("tr");
    const td = cell(empty);
    td.colSpan = table.tHead?.rows[0]?.cells.length ?? 1;
    row.append(td);
    rows.push(row);
  }
  body.replaceChildren(...rows);
}

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : null);

function renderConsents(userId: string, consents: Consent[]) {
  const rows = consents.map((consent) => {
    const row = document.createElement("tr");
    row.dataset.purpose = consent.purpose;
    const purpose = document.createElement("th");
    purpose.scope = "row";
    purpose.textContent = consent.purpose;
    const version =
      consent.grantedNoticeVersion === null
        ? `current ${consent.currentNoticeVersion}`
        : `${consent.grantedNoticeVersion} (current ${consent.currentNoticeVersion})`;
    const action = document.createElement("td");
    if (consent.state === "granted" && canAct) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Revoke";
      button.setAttribute("aria-label", `Revoke ${consent.purpose}`);
      button.addEventListener("click", () => startRevoke(consent.purpose));
      action.append(button);
    }
    row.append(
      purpose,
      cell(consent.state, consent.state),
      cell(version),
      cell(when(consent.updatedAt)),
      action,
    );
    return row;
  });
  ui.consentsCaption.textContent = `Consents of ${userId}`;
  fillBody(ui.consents, rows, "no consents");
  ui.consents.hidden = false;
}

function renderAudit(events: AuditEvent[]) {
  const rows = events.map((event) => {
    const row = document.createElement("tr");
    row.dataset.seq = String(event.seq);
    row.append(
      cell(event.seq),
      cell(when(event.at)),
      cell(event.kind),
      cell(event.operation),
      cell(event.target ?? event.purpose),
      cell(event.errorCode ? `${event.result} (${event.errorCode})` : event.result),
      cell(event.actor),
      cell(event.requestId, "mono"),
    );
    return row;
  });
  fillBody(ui.audit, rows, "no audit events match");
}

function renderErasures(erasures: Erasure[]) {
  const rows = erasures.map((erasure) => {
    const row = document.createElement("tr");
    row.dataset.user = erasure.userId;
    row.append(
      cell(when(erasure.requestedAt)),
      cell(erasure.userId),
      cell(erasure.partner),
      cell(erasure.categories.join(", ")),
      cell(erasure.reason),
      cell(erasure.requestedBy),
      cell(erasure.status, erasure.status),
      cell(erasure.attempts),
      cell(when(erasure.completedAt)),
      cell(erasure.lastError),
    );
    return row;
  });
  fillBody(ui.erasures, rows, "no erasure requests match");
}

const optional = (value: string) => (value.trim() === "" ? undefined : value.trim());

/** The kind filter: one of the kinds the api writes, or none. */
function auditKind(value: string): AuditKind | undefined {
  const typed = optional(value);
  if (typed === undefined) return undefined;
  const kind = AUDIT_KINDS.find((known) => known === typed);
  if (!kind) throw new Error(`unknown audit kind "${typed}"; pick one of the list`);
  return kind;
}

for (const kind of AUDIT_KINDS) {
  const option = document.createElement("option");
  option.value = kind;
  ui.auditKinds.append(option);
}

async function loadConsents(userId: string) {
  const consents = await client.admin.consents.list.query({ userId });
  shownUserId = userId;
  renderConsents(userId, consents);
}

async function loadAudit() {
  const page = await client.admin.audit.list.query({
    userId: optional(ui.auditUser.value),
    kind: auditKind(ui.auditKind.value),
    limit: 100,
  });
  renderAudit(page.rows);
}

async function loadErasures() {
  const status = ui.erasuresStatus.value;
  renderErasures(
    await client.admin.erasures.list.query({
      userId: optional(ui.erasuresUser.value),
      status: status === "pending" || status === "done" ? status : undefined,
    }),
  );
}

function startRevoke(purpose: Purpose) {
  revoking = purpose;
  ui.revokeLegend.textContent = `Revoke ${purpose} for ${shownUserId ?? ""}`;
  ui.revokeReason.value = "";
  ui.revokeForm.hidden = false;
  ui.revokeReason.focus();
}

function stopRevoke() {
  revoking = null;
  ui.revokeForm.hidden = true;
}

ready.catch(showError);

ui.logout.addEventListener("click", () => {
  void run("Signing out", async () => {
    const response = await fetch("/auth/logout", {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrf-token": csrfToken },
    });
    const body = (await response.json().catch(() => null)) as { location?: string } | null;
    if (!response.ok || typeof body?.location !== "string")
      throw new Error(`signing out failed (HTTP ${response.status})`);
    location.assign(body.location);
  });
});

ui.residentForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const userId = ui.residentId.value.trim();
  stopRevoke();
  void run("Loading consents", async () => {
    await loadConsents(userId);
    ui.auditUser.value = userId;
    ui.erasuresUser.value = userId;
    await Promise.all([loadAudit(), loadErasures()]);
  });
});

ui.revokeForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const purpose = revoking;
  const userId = shownUserId;
  const reason = ui.revokeReason.value.trim();
  if (!purpose || !userId) return;
  void run(`Revoking ${purpose}`, async () => {
    const consents = await client.admin.consents.revoke.mutate({ userId, purpose, reason });
    stopRevoke();
    renderConsents(userId, consents);
    await Promise.all([loadAudit(), loadErasures()]);
  });
});
ui.revokeCancel.addEventListener("click", stopRevoke);

ui.auditForm.addEventListener("submit", (event) => {
  event.preventDefault();
  void run("Loading audit trail", loadAudit);
});

ui.verify.addEventListener("click", () => {
  ui.verifyResult.textContent = "";
  ui.verifyResult.className = "";
  void run("Verifying the audit chain", async () => {
    const verdict = await client.admin.audit.verify.query();
    ui.verifyResult.className = verdict.ok ? "ok" : "bad";
    ui.verifyResult.textContent = verdict.ok
      ? `Chain ok: ${verdict.count} events checked, ${verdict.checkpoints ?? 0} signed checkpoints matched`
      : verdict.firstBadSeq === null
        ? `Chain broken: ${verdict.reason}`
        : `Chain broken: first bad seq ${verdict.firstBadSeq} (${verdict.reason})`;
  });
});

ui.erasuresForm.addEventListener("submit", (event) => {
  event.preventDefault();
  void run("Loading erasures", loadErasures);
});
