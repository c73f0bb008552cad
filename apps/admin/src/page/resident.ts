import { ERASURE_CATEGORIES, ERASURE_PARTNER, type Purpose } from "@propgate/domain";
import { canAct } from "./access.ts";
import { type Consent, client, type ResidentView, type VideoSession } from "./api.ts";
import { confirmAction } from "./confirm.ts";
import { actionButton, byId, cell, fillTable, h, headerRow, tableById } from "./elements.ts";
import { erasureColumns, erasureRow } from "./erasures.ts";
import { createPanel } from "./panel.ts";
import { navigate, type Screen } from "./router.ts";
import { timeElement } from "./time.ts";

/**
 * One resident by opaque user id (`admin.residents.get`): consent per purpose with its history,
 * erasures and video sessions; operators revoke one purpose or all, retry an erasure, end a
 * session — each after the confirmation dialog, with a reason.
 */

/** What a revoke of `purpose` does besides refusing new calls, for the confirmation. */
function revokeEffects(purpose: Purpose): string {
  const erased = ERASURE_CATEGORIES.find((category) => category === purpose);
  if (erased) return ` The ${ERASURE_PARTNER[erased]} partner is asked to erase their ${erased}.`;
  if (purpose === "video") return " Their live video sessions are ended.";
  return "";
}

function historyRow(consent: Consent): HTMLTableRowElement {
  const entries = consent.history.map((entry) =>
    h(
      "tr",
      { "data-action": entry.action },
      cell(timeElement(entry.at)),
      cell(entry.action),
      cell(entry.noticeVersion),
      cell(entry.channel),
      cell(entry.method),
      cell(entry.actor),
      cell(entry.reason),
    ),
  );
  const table = h(
    "table",
    { class: "history" },
    h(
      "thead",
      {},
      headerRow(["Time", "Action", "Notice version", "Channel", "Method", "Actor", "Reason"]),
    ),
    h("tbody", {}, ...entries),
  );
  const count = consent.history.length;
  const content =
    count === 0
      ? h("span", { class: "hint" }, `${consent.purpose}: never granted or revoked`)
      : h(
          "details",
          {},
          h(
            "summary",
            {},
            `History of ${consent.purpose}: ${count} ${count === 1 ? "change" : "changes"}`,
          ),
          table,
        );
  return h(
    "tr",
    { class: "history-row", "data-history-of": consent.purpose },
    h("td", { colspan: 5 }, content),
  );
}

const CONSENT_COLUMNS = ["Purpose", "State", "Notice version", "Updated", "Action"];
const VIDEO_COLUMNS = [
  "Started",
  "Session",
  "Camera",
  "Site",
  "Partner",
  "State",
  "Expires",
  "Ending",
  "Action",
];

export function createResidentScreen(ready: Promise<unknown>): Screen {
  const section = byId("screen-resident", HTMLElement);
  const form = byId("resident-form", HTMLFormElement);
  const input = byId("resident-id", HTMLInputElement);
  const view = byId("resident-view", HTMLDivElement);
  const summary = byId("resident-summary", HTMLParagraphElement);
  const auditLink = byId("resident-audit", HTMLAnchorElement);
  const revokeAll = byId("revoke-all", HTMLButtonElement);
  const consents = tableById("consents", CONSENT_COLUMNS);
  const caption = byId("consents-caption", HTMLTableCaptionElement);
  const erasures = tableById("resident-erasures", erasureColumns({ showUser: false }));
  const videos = tableById("resident-videos", VIDEO_COLUMNS);
  const panel = createPanel(section, () => ready);
  let shown: string | null = null;

  const reload = async () => {
    if (shown !== null) await panel.run("Loading the resident", () => load(shown ?? ""));
  };

  function consentRows(resident: ResidentView): HTMLTableRowElement[] {
    return resident.consents.flatMap((consent) => {
      const version =
        consent.grantedNoticeVersion === null
          ? `current ${consent.currentNoticeVersion}`
          : `${consent.grantedNoticeVersion} (current ${consent.currentNoticeVersion})`;
      const action = h("td");
      if (consent.state === "granted" && canAct()) {
        action.append(
          actionButton("Revoke", `Revoke ${consent.purpose}`, () =>
            confirmAction({
              title: `Revoke ${consent.purpose} for ${resident.userId}`,
              detail: `This takes effect at once: calls for ${consent.purpose} in flight are stopped and new ones refused until the resident grants it again.${revokeEffects(consent.purpose)}`,
              confirm: "Confirm revoke",
              action: async (reason) => {
                await client.admin.consents.revoke.mutate({
                  userId: resident.userId,
                  purpose: consent.purpose,
                  reason,
                });
                await reload();
              },
            }),
          ),
        );
      }
      const row = h(
        "tr",
        { "data-purpose": consent.purpose, "data-state": consent.state },
        h("th", { scope: "row" }, consent.purpose),
        cell(consent.state, { class: `state-${consent.state}` }),
        cell(version),
        cell(timeElement(consent.updatedAt)),
        action,
      );
      return [row, historyRow(consent)];
    });
  }

  function videoRow(session: VideoSession): HTMLTableRowElement {
    const action = h("td");
    if (session.state === "live" && canAct()) {
      action.append(
        actionButton("End", `End video session ${session.id}`, () =>
          confirmAction({
            title: `End video session ${session.id}`,
            detail: `The session on camera ${session.cameraId} is ended at the partner (within seconds; retried until the partner confirms).`,
            confirm: "Confirm end",
            action: async (reason) => {
              await client.admin.videoSessions.end.mutate({ sessionId: session.id, reason });
              await reload();
            },
          }),
        ),
      );
    }
    const ending = session.endRequestedAt
      ? h(
          "span",
          {},
          timeElement(session.endRequestedAt),
          session.endAttempts > 0
            ? ` · ${session.endAttempts} failed (${session.endLastError ?? "?"})`
            : null,
        )
      : null;
    return h(
      "tr",
      { "data-session": session.id, "data-state": session.state },
      cell(timeElement(session.createdAt)),
      cell(session.id, { class: "mono" }),
      cell(session.cameraId),
      cell(session.siteId),
      cell(session.partner),
      cell(session.state, { class: `state-${session.state}` }),
      cell(timeElement(session.expiresAt)),
      cell(ending),
      action,
    );
  }

  function render(resident: ResidentView) {
    const granted = resident.consents.filter((consent) => consent.state === "granted");
    summary.replaceChildren(
      "Resident ",
      h("code", {}, resident.userId),
      `: ${granted.length} of ${resident.consents.length} purposes granted`,
    );
    auditLink.href = `#/audit?${new URLSearchParams({ userId: resident.userId })}`;
    revokeAll.hidden = !(canAct() && granted.length > 0);
    caption.textContent = `Consents of ${resident.userId}`;
    fillTable(consents, consentRows(resident), "No purposes.");
    fillTable(
      erasures,
      resident.erasures.map((erasure) => erasureRow(erasure, { showUser: false, changed: reload })),
      "No erasure requests.",
    );
    const live = resident.videoSessions.filter((session) => session.state !== "ended");
    fillTable(videos, live.map(videoRow), "No live video sessions.");
    view.hidden = false;
  }

  async function load(userId: string) {
    const resident = await client.admin.residents.get.query({ userId });
    shown = resident.userId;
    render(resident);
  }

  revokeAll.addEventListener("click", () => {
    const userId = shown;
    if (userId === null) return;
    confirmAction({
      title: `Revoke every purpose for ${userId}`,
      detail:
        "Every consent of this resident is revoked at once, in one step: calls in flight are stopped, new ones refused, their live video sessions ended and the partners asked to erase their faces and plates.",
      confirm: "Confirm revoke all",
      action: async (reason) => {
        await client.admin.consents.revoke.mutate({ userId, all: true, reason });
        await reload();
      },
    });
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("resident", { userId: input.value.trim() });
  });

  return {
    name: "resident",
    section,
    show(params) {
      const userId = params.get("userId")?.trim() ?? "";
      if (userId === "") {
        input.focus();
        void reload(); // back from another screen: the resident shown, as they are now
        return;
      }
      input.value = userId;
      if (userId !== shown) view.hidden = true;
      void panel.run("Loading the resident", () => load(userId));
    },
  };
}
