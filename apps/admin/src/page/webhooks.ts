import { client, type WebhookOutboxPage } from "./api.ts";
import {
  byId,
  cell,
  explained,
  fillTable,
  h,
  optional,
  screenLink,
  tableById,
} from "./elements.ts";
import { t } from "./i18n/i18n.ts";
import { createPanel } from "./panel.ts";
import type { Screen } from "./router.ts";
import { duration, timeElement } from "./time.ts";

/** The push relay's outbox: how far behind it is, and its rows — ids, attempts, last error. */

const COLUMNS = [
  t("webhooks.col.queued"),
  t("webhooks.col.id"),
  t("webhooks.col.type"),
  t("col.user"),
  t("col.status"),
  t("col.attempts"),
  t("col.lastError"),
  t("col.nextAttempt"),
  t("webhooks.col.delivered"),
];

type Row = WebhookOutboxPage["rows"][number];

function webhookRow(row: Row): HTMLTableRowElement {
  return h(
    "tr",
    { "data-webhook": row.id, "data-user": row.userId, "data-status": row.status },
    cell(timeElement(row.createdAt)),
    cell(row.id, { class: "mono id" }),
    cell(explained("operation", row.eventType)),
    cell(screenLink(row.userId, "resident", { userId: row.userId }), { class: "id" }),
    cell(t(`webhooks.${row.status}`), { class: `state-${row.status}` }),
    cell(row.attempts),
    cell(row.lastError, { translate: "no" }),
    cell(row.status === "pending" ? timeElement(row.nextAttemptAt) : null),
    cell(timeElement(row.deliveredAt)),
  );
}

function summary(page: WebhookOutboxPage): string {
  const { pending, delivered, oldestPendingSeconds, overdue } = page.stats;
  const state = page.configured ? "" : t("webhooks.notConfigured");
  const oldest =
    pending > 0
      ? t("webhooks.oldest", { duration: duration(Math.round(oldestPendingSeconds)) })
      : "";
  const late = overdue > 0 ? t("webhooks.overdue", { count: overdue }) : "";
  return `${state}${t("webhooks.summary", { pending, oldest, late, delivered })}`;
}

export function createWebhooksScreen(ready: Promise<unknown>): Screen {
  const section = byId("screen-webhooks", HTMLElement);
  const form = byId("webhooks-form", HTMLFormElement);
  const userId = byId("webhooks-user", HTMLInputElement);
  const status = byId("webhooks-status", HTMLSelectElement);
  const shown = byId("webhooks-summary", HTMLParagraphElement);
  const more = byId("webhooks-more", HTMLButtonElement);
  const table = tableById("webhooks", COLUMNS);
  const panel = createPanel(section, () => ready);
  let rows: HTMLTableRowElement[] = [];
  let before: number | null = null;

  async function load(older: boolean) {
    const chosen = status.value;
    const page = await client.admin.webhookOutbox.list.query({
      userId: optional(userId.value),
      status: chosen === "pending" || chosen === "delivered" ? chosen : undefined,
      before: older ? (before ?? undefined) : undefined,
      limit: 100,
    });
    shown.textContent = summary(page);
    rows = [...(older ? rows : []), ...page.rows.map(webhookRow)];
    before = page.nextBefore;
    more.hidden = before === null;
    fillTable(table, rows, t("webhooks.none"));
  }
  const reload = (older: boolean) => panel.run(t("webhooks.loading"), () => load(older));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void reload(false);
  });
  more.addEventListener("click", () => void reload(true));
  return {
    name: "webhooks",
    section,
    show(params) {
      const user = params.get("userId");
      if (user !== null) userId.value = user;
      void reload(false);
    },
  };
}
