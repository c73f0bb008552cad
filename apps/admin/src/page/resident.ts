import { ERASURE_CATEGORIES, ERASURE_PARTNER, type Purpose } from "@propgate/domain";
import { canAct } from "./access.ts";
import {
  type Consent,
  client,
  type FoundResident,
  type ResidentView,
  type VideoSession,
} from "./api.ts";
import { confirmAction } from "./confirm.ts";
import { downloadFile } from "./download.ts";
import {
  actionButton,
  actorName,
  byId,
  cell,
  explained,
  fillTable,
  h,
  headerRow,
  labelCells,
  screenLink,
  tableById,
} from "./elements.ts";
import { erasureColumns, erasureRow } from "./erasures.ts";
import { createGuestKeysSection } from "./guest-keys.ts";
import { type MessageKey, t } from "./i18n/i18n.ts";
import { createJournalSection } from "./journal.ts";
import { createPanel } from "./panel.ts";
import { navigate, type Screen } from "./router.ts";
import { timeElement } from "./time.ts";

/**
 * One resident by opaque user id (`admin.residents.get`), found by the id's beginning or among
 * those active lately (`admin.residents.find`); an id with no history at all says "never seen".
 * For a resident: consent per purpose with its history,
 * erasures, video sessions, guest keys (`guest-keys.ts`) and journal (`journal.ts`); operators
 * revoke one purpose or all, retry an erasure, end a session, revoke a key, or download the
 * resident's signed privacy report — each after the confirmation dialog, with a reason.
 */

/**
 * The report's file: `{ document, jws }` as the api answered it, so the signed text travels
 * byte for byte (a JSON string round-trips exactly) and the file and the published JWKS are
 * all a verifier needs.
 */
function privacyReportFile(userId: string, report: { document: string; jws: string | null }) {
  const safeId = userId.replaceAll(/[^A-Za-z0-9._-]/g, "_");
  const date = new Date().toISOString().slice(0, 10);
  const text = `${JSON.stringify({ document: report.document, jws: report.jws }, null, 2)}\n`;
  return { name: `privacy-report-${safeId}-${date}.json`, text };
}

/** What a revoke of `purpose` does besides refusing new calls, for the confirmation. */
function revokeEffects(purpose: Purpose): string {
  const erased = ERASURE_CATEGORIES.find((category) => category === purpose);
  if (erased)
    return t("resident.revokeErase", {
      partner: purposeName(ERASURE_PARTNER[erased], "partner"),
      category: purposeName(erased),
    });
  if (purpose === "video") return t("resident.revokeVideo");
  if (purpose === "journal") return t("resident.revokeJournal");
  return "";
}

/** A purpose (or partner) as the admin reads it: its explanation, or the code. */
function purposeName(code: string, group: "purpose" | "partner" = "purpose"): string {
  return t(`${group}.${code}` as MessageKey);
}

function historyRow(consent: Consent): HTMLTableRowElement {
  const entries = consent.history.map((entry) =>
    h(
      "tr",
      { "data-action": entry.action },
      cell(timeElement(entry.at)),
      cell(t(`consent.action.${entry.action}`)),
      cell(entry.noticeVersion, { class: "num" }),
      cell(explained("channel", entry.channel)),
      cell(explained("method", entry.method)),
      cell(actorName(entry.actor), { class: "id" }),
      cell(entry.reason),
    ),
  );
  const table = h(
    "table",
    { class: "history" },
    h(
      "thead",
      {},
      headerRow([
        t("col.time"),
        t("resident.col.action"),
        t("resident.col.notice"),
        t("resident.col.channel"),
        t("col.method"),
        t("resident.col.actor"),
        t("col.reason"),
      ]),
    ),
    h("tbody", {}, ...entries),
  );
  labelCells(table);
  const count = consent.history.length;
  const content =
    count === 0
      ? h(
          "span",
          { class: "hint" },
          t("resident.neverGranted", { purpose: purposeName(consent.purpose) }),
        )
      : h(
          "details",
          {},
          h("summary", {}, t("resident.history", { purpose: purposeName(consent.purpose), count })),
          table,
        );
  return h(
    "tr",
    { class: "history-row", "data-history-of": consent.purpose },
    h("td", { colspan: 5 }, content),
  );
}

const CONSENT_COLUMNS = [
  t("resident.col.purpose"),
  t("col.state"),
  t("resident.col.notice"),
  t("resident.col.updated"),
  t("col.action"),
];
const VIDEO_COLUMNS = [
  t("video.col.started"),
  t("video.col.session"),
  t("video.col.camera"),
  t("col.site"),
  t("col.partner"),
  t("col.state"),
  t("video.col.expires"),
  t("video.col.ending"),
  t("col.action"),
];

/** A found resident: a link to their screen and when they were last seen. */
function foundItem(found: FoundResident): HTMLLIElement {
  return h(
    "li",
    { "data-user": found.userId },
    h("span", { translate: "no" }, screenLink(found.userId, "resident", { userId: found.userId })),
    found.lastSeenAt
      ? h(
          "span",
          { class: "hint" },
          " ",
          t("resident.lastSeen", { time: "" }),
          timeElement(found.lastSeenAt),
        )
      : null,
  );
}

export function createResidentScreen(ready: Promise<unknown>): Screen {
  const section = byId("screen-resident", HTMLElement);
  const form = byId("resident-form", HTMLFormElement);
  const input = byId("resident-id", HTMLInputElement);
  const view = byId("resident-view", HTMLDivElement);
  const neverSeen = byId("resident-never-seen", HTMLParagraphElement);
  const matches = byId("resident-matches", HTMLDivElement);
  const matchesSummary = byId("resident-matches-summary", HTMLParagraphElement);
  const matchesList = byId("resident-matches-list", HTMLUListElement);
  const recent = byId("resident-recent", HTMLDivElement);
  const recentList = byId("resident-recent-list", HTMLUListElement);
  const summary = byId("resident-summary", HTMLParagraphElement);
  const auditLink = byId("resident-audit", HTMLAnchorElement);
  const revokeAll = byId("revoke-all", HTMLButtonElement);
  const privacyReport = byId("privacy-report", HTMLButtonElement);
  const consents = tableById("consents", CONSENT_COLUMNS);
  const caption = byId("consents-caption", HTMLTableCaptionElement);
  const erasures = tableById("resident-erasures", erasureColumns({ showUser: false }));
  const videos = tableById("resident-videos", VIDEO_COLUMNS);
  const panel = createPanel(section, () => ready);
  const journal = createJournalSection(panel);
  let shown: string | null = null;

  const reload = async () => {
    if (shown !== null) await panel.run(t("resident.loading"), () => load(shown ?? ""));
  };
  const keys = createGuestKeysSection(reload);

  function consentRows(resident: ResidentView): HTMLTableRowElement[] {
    return resident.consents.flatMap((consent) => {
      const version =
        consent.grantedNoticeVersion === null
          ? t("resident.versionCurrent", { current: consent.currentNoticeVersion })
          : t("resident.version", {
              granted: consent.grantedNoticeVersion,
              current: consent.currentNoticeVersion,
            });
      const action = h("td");
      if (consent.state === "granted" && canAct()) {
        action.append(
          actionButton(
            t("resident.revoke"),
            t("resident.revokeLabel", { purpose: consent.purpose }),
            () =>
              confirmAction({
                title: t("resident.revokeTitle", {
                  purpose: purposeName(consent.purpose),
                  userId: resident.userId,
                }),
                detail: `${t("resident.revokeDetail", { purpose: purposeName(consent.purpose) })}${revokeEffects(consent.purpose)}`,
                confirm: t("resident.revokeConfirm"),
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
        h("th", { scope: "row" }, explained("purpose", consent.purpose)),
        cell(t(`consent.${consent.state}`), { class: `state-${consent.state}` }),
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
        actionButton(t("video.end"), t("video.endLabel", { id: session.id }), () =>
          confirmAction({
            title: t("video.endTitle", { id: session.id }),
            detail: t("video.endDetail", { camera: session.cameraId }),
            confirm: t("video.endConfirm"),
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
            ? t("video.failed", { count: session.endAttempts, error: session.endLastError ?? "?" })
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
      cell(explained("partner", session.partner)),
      cell(t(`video.${session.state}`), { class: `state-${session.state}` }),
      cell(timeElement(session.expiresAt)),
      cell(ending),
      action,
    );
  }

  function render(resident: ResidentView) {
    const granted = resident.consents.filter((consent) => consent.state === "granted");
    summary.replaceChildren(
      h("code", { translate: "no" }, resident.userId),
      `: ${t("resident.summary", { granted: granted.length, count: resident.consents.length })}`,
    );
    auditLink.href = `#/audit?${new URLSearchParams({ userId: resident.userId })}`;
    revokeAll.hidden = !(canAct() && granted.length > 0);
    privacyReport.hidden = !canAct();
    caption.textContent = t("resident.consentsOf", { userId: resident.userId });
    fillTable(consents, consentRows(resident), t("resident.noPurposes"));
    fillTable(
      erasures,
      resident.erasures.map((erasure) => erasureRow(erasure, { showUser: false, changed: reload })),
      t("resident.noErasures"),
    );
    const live = resident.videoSessions.filter((session) => session.state !== "ended");
    fillTable(videos, live.map(videoRow), t("resident.noVideos"));
    view.hidden = false;
  }

  /** The ids beginning with `prefix`, or "never seen" when none does. */
  async function search(prefix: string) {
    const { residents } = await client.admin.residents.find.query({ prefix });
    if (residents.length === 0) {
      neverSeen.textContent = t("resident.neverSeen", { userId: prefix });
      neverSeen.hidden = false;
      return;
    }
    matchesSummary.textContent = t("resident.matches", { count: residents.length, prefix });
    matchesList.replaceChildren(...residents.map(foundItem));
    matches.hidden = false;
  }

  async function showRecent() {
    const { residents } = await client.admin.residents.find.query({});
    recentList.replaceChildren(
      ...(residents.length === 0
        ? [h("li", { class: "hint" }, t("resident.noRecent"))]
        : residents.map(foundItem)),
    );
    recent.hidden = false;
  }

  function hideFound() {
    neverSeen.hidden = true;
    matches.hidden = true;
    recent.hidden = true;
  }

  async function load(userId: string) {
    const resident = await client.admin.residents.get.query({ userId });
    if (!resident.seen) {
      // Nothing at all about this id (reading its journal would leave the first row): perhaps
      // it is the beginning of one.
      shown = null;
      view.hidden = true;
      hideFound();
      await search(userId);
      return;
    }
    // All before the view shows: never one resident's journal or keys under another's consents.
    await Promise.all([journal.load(userId), keys.load(userId)]);
    shown = resident.userId;
    hideFound();
    render(resident);
  }

  revokeAll.addEventListener("click", () => {
    const userId = shown;
    if (userId === null) return;
    confirmAction({
      title: t("resident.revokeAllTitle", { userId }),
      detail: t("resident.revokeAllDetail"),
      confirm: t("resident.revokeAllConfirm"),
      action: async (reason) => {
        await client.admin.consents.revoke.mutate({ userId, all: true, reason });
        await reload();
      },
    });
  });

  privacyReport.addEventListener("click", () => {
    const userId = shown;
    if (userId === null) return;
    confirmAction({
      title: t("resident.reportTitle", { userId }),
      detail: t("resident.reportDetail"),
      confirm: t("resident.reportConfirm"),
      action: async (reason) => {
        const report = await client.admin.privacy.report.mutate({ userId, reason });
        const file = privacyReportFile(userId, report);
        downloadFile(file.text, file.name, "application/json");
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
        if (shown !== null)
          void reload(); // back from another screen: the resident, as now
        else void panel.run(t("resident.searching"), showRecent);
        return;
      }
      input.value = userId;
      if (userId !== shown) view.hidden = true;
      void panel.run(t("resident.loading"), () => load(userId));
    },
  };
}
