import { canAct } from "./access.ts";
import { client, type Erasure } from "./api.ts";
import { confirmAction } from "./confirm.ts";
import { createDestructionRecordsExport } from "./destruction-records.ts";
import {
  actionButton,
  actorName,
  byId,
  cell,
  explained,
  fillTable,
  h,
  optional,
  screenLink,
  tableById,
} from "./elements.ts";
import { type MessageKey, t } from "./i18n/i18n.ts";
import { createPanel } from "./panel.ts";
import type { Screen } from "./router.ts";
import { timeElement } from "./time.ts";

/** Erasure requests (the resident screen's and this screen's): **Retry** for operators. */

/** The columns of `erasureRow`'s rows. */
export function erasureColumns(options: { showUser: boolean }): string[] {
  return [
    t("erasures.col.requested"),
    ...(options.showUser ? [t("col.user")] : []),
    t("col.partner"),
    t("erasures.col.categories"),
    t("col.reason"),
    t("erasures.col.requestedBy"),
    t("col.status"),
    t("col.attempts"),
    t("col.nextAttempt"),
    t("col.lastError"),
    t("erasures.col.completed"),
    t("erasures.col.overdue"),
    t("col.action"),
  ];
}

/** The categories as the admin reads them (`faces` → face recognition). */
function categoriesText(categories: readonly string[]): string {
  return categories.map((category) => t(`purpose.${category}` as MessageKey)).join(", ");
}

export function erasureRow(
  erasure: Erasure,
  options: { showUser: boolean; changed: () => Promise<void> },
): HTMLTableRowElement {
  const action = h("td");
  if (erasure.status === "pending" && canAct()) {
    action.append(
      actionButton(t("erasures.retry"), t("erasures.retryLabel", { id: erasure.id }), () =>
        confirmAction({
          title: t("erasures.retryTitle", { id: erasure.id }),
          detail: t("erasures.retryDetail", {
            categories: categoriesText(erasure.categories),
            partner: t(`partner.${erasure.partner}` as MessageKey),
          }),
          confirm: t("erasures.retryConfirm"),
          action: async (reason) => {
            await client.admin.erasures.retry.mutate({ erasureId: erasure.id, reason });
            await options.changed();
          },
        }),
      ),
    );
  }
  return h(
    "tr",
    {
      "data-erasure": erasure.id,
      "data-user": erasure.userId,
      "data-status": erasure.status,
      "data-overdue": erasure.overdueSince === null || erasure.status === "done" ? "no" : "yes",
    },
    cell(timeElement(erasure.requestedAt)),
    options.showUser
      ? cell(screenLink(erasure.userId, "resident", { userId: erasure.userId }))
      : null,
    cell(explained("partner", erasure.partner)),
    cell(categoriesText(erasure.categories)),
    cell(explained("erasureReason", erasure.reason)),
    cell(actorName(erasure.requestedBy), { class: "id" }),
    cell(t(`erasures.${erasure.status}`), { class: `state-${erasure.status}` }),
    cell(erasure.attempts),
    // Pending: the next DELETE; accepted: the next status poll of the partner.
    cell(erasure.status === "done" ? null : timeElement(erasure.nextAttemptAt)),
    cell(erasure.lastError, { translate: "no" }), // as the partner or the network said it
    // For an accepted request, when the partner took it (202); done: when it confirmed.
    cell(timeElement(erasure.completedAt)),
    // Past ERASURE_DEADLINE_DAYS unconfirmed: what the overdue alert is about.
    cell(erasure.overdueSince === null ? null : timeElement(erasure.overdueSince), {
      class: erasure.overdueSince !== null && erasure.status !== "done" ? "state-overdue" : null,
    }),
    action,
  );
}

export function createErasuresScreen(ready: Promise<unknown>): Screen {
  const section = byId("screen-erasures", HTMLElement);
  const form = byId("erasures-form", HTMLFormElement);
  const userId = byId("erasures-user", HTMLInputElement);
  const status = byId("erasures-status", HTMLSelectElement);
  const table = tableById("erasures", erasureColumns({ showUser: true }));
  const panel = createPanel(section, () => ready);
  const records = createDestructionRecordsExport(ready);

  async function load() {
    const chosen = status.value;
    const erasures = await client.admin.erasures.list.query({
      userId: optional(userId.value),
      status:
        chosen === "pending" || chosen === "accepted" || chosen === "done" ? chosen : undefined,
    });
    fillTable(
      table,
      erasures.map((erasure) => erasureRow(erasure, { showUser: true, changed: reload })),
      t("erasures.none"),
    );
  }
  const reload = async () => {
    await panel.run(t("erasures.loading"), load);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void reload();
  });
  return {
    name: "erasures",
    section,
    show(params) {
      const user = params.get("userId");
      if (user !== null) userId.value = user;
      records.show();
      void reload();
    },
  };
}
