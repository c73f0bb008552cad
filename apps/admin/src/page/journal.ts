import { client, type JournalPage } from "./api.ts";
import { byId, cell, explained, fillTable, h, tableById } from "./elements.ts";
import { t } from "./i18n/i18n.ts";
import type { Panel } from "./panel.ts";
import { duration, timeElement } from "./time.ts";

/**
 * The resident screen's journal (`admin.journal.list`): their `journal` consent, then what
 * happened at their doors newest first, with "Older entries" for the next page, and a link to
 * the resident's messages in the webhook outbox.
 */

const COLUMNS = [
  t("col.time"),
  t("col.kind"),
  t("col.device"),
  t("col.method"),
  t("col.outcome"),
  t("journal.col.duration"),
];

type Entry = JournalPage["entries"][number];

function entryRow(entry: Entry): HTMLTableRowElement {
  return h(
    "tr",
    { "data-entry": entry.id, "data-kind": entry.kind },
    cell(timeElement(entry.occurredAt)),
    cell(explained("operation", entry.kind)),
    cell(entry.deviceId, { class: "id" }),
    cell(explained("entry", entry.method)),
    cell(explained("call", entry.outcome)),
    cell(entry.durationSeconds === null ? null : duration(entry.durationSeconds)),
  );
}

/** Without consent nothing is kept: the line says so, so an empty table is not a puzzle. */
function consentLine(consent: JournalPage["consent"]): (Node | string)[] {
  const since = timeElement(consent.updatedAt);
  switch (consent.state) {
    case "granted":
      return [
        t("journal.granted", { version: consent.grantedNoticeVersion ?? "?" }),
        ...(since ? [t("journal.since"), since] : []),
        ".",
      ];
    case "revoked":
      return [
        t("journal.revoked"),
        ...(since ? [t("journal.on"), since] : []),
        t("journal.revokedRest"),
      ];
    default:
      return [t("journal.never")];
  }
}

export interface JournalSection {
  /** Shows the newest page of `userId`'s journal (inside the resident screen's panel run). */
  load(userId: string): Promise<void>;
}

export function createJournalSection(panel: Panel): JournalSection {
  const consent = byId("journal-consent", HTMLParagraphElement);
  const table = tableById("resident-journal", COLUMNS);
  const older = byId("journal-older", HTMLButtonElement);
  const webhooks = byId("journal-webhooks", HTMLAnchorElement);
  let userId: string | null = null;
  let cursor: string | null = null;
  let rows: HTMLTableRowElement[] = [];

  async function page(more: boolean) {
    if (userId === null) return;
    const shown = await client.admin.journal.list.query({
      userId,
      cursor: more ? (cursor ?? undefined) : undefined,
    });
    consent.replaceChildren(...consentLine(shown.consent));
    consent.dataset.state = shown.consent.state;
    rows = [...(more ? rows : []), ...shown.entries.map(entryRow)];
    cursor = shown.nextCursor;
    older.hidden = cursor === null;
    fillTable(table, [...rows], t("journal.none")); // a copy: fillTable adds the empty row
  }

  older.addEventListener(
    "click",
    () => void panel.run(t("journal.loadingOlder"), () => page(true)),
  );
  return {
    load(id) {
      userId = id;
      webhooks.href = `#/webhooks?${new URLSearchParams({ userId: id })}`;
      return page(false);
    },
  };
}
