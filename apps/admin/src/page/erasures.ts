import { canAct } from "./access.ts";
import { client, type Erasure } from "./api.ts";
import { confirmAction } from "./confirm.ts";
import {
  actionButton,
  byId,
  cell,
  fillTable,
  h,
  optional,
  screenLink,
  tableById,
} from "./elements.ts";
import { createPanel } from "./panel.ts";
import type { Screen } from "./router.ts";
import { timeElement } from "./time.ts";

/** Erasure requests (the resident screen's and this screen's): **Retry** for operators. */

/** The columns of `erasureRow`'s rows. */
export function erasureColumns(options: { showUser: boolean }): string[] {
  return [
    "Requested",
    ...(options.showUser ? ["User"] : []),
    "Partner",
    "Categories",
    "Reason",
    "Requested by",
    "Status",
    "Attempts",
    "Next attempt",
    "Last error",
    "Completed",
    "Action",
  ];
}

export function erasureRow(
  erasure: Erasure,
  options: { showUser: boolean; changed: () => Promise<void> },
): HTMLTableRowElement {
  const action = h("td");
  if (erasure.status === "pending" && canAct()) {
    action.append(
      actionButton("Retry", `Retry erasure ${erasure.id}`, () =>
        confirmAction({
          title: `Retry erasure ${erasure.id}`,
          detail: `The erasure of ${erasure.categories.join(", ")} at ${erasure.partner} is sent again now (the worker's next pass), instead of at its next scheduled attempt.`,
          confirm: "Confirm retry",
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
    { "data-erasure": erasure.id, "data-user": erasure.userId, "data-status": erasure.status },
    cell(timeElement(erasure.requestedAt)),
    options.showUser
      ? cell(screenLink(erasure.userId, "resident", { userId: erasure.userId }))
      : null,
    cell(erasure.partner),
    cell(erasure.categories.join(", ")),
    cell(erasure.reason),
    cell(erasure.requestedBy),
    cell(erasure.status, { class: `state-${erasure.status}` }),
    cell(erasure.attempts),
    cell(erasure.status === "pending" ? timeElement(erasure.nextAttemptAt) : null),
    cell(erasure.lastError),
    cell(timeElement(erasure.completedAt)),
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

  async function load() {
    const chosen = status.value;
    const erasures = await client.admin.erasures.list.query({
      userId: optional(userId.value),
      status: chosen === "pending" || chosen === "done" ? chosen : undefined,
    });
    fillTable(
      table,
      erasures.map((erasure) => erasureRow(erasure, { showUser: true, changed: reload })),
      "No erasure requests match.",
    );
  }
  const reload = async () => {
    await panel.run("Loading erasures", load);
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
      void reload();
    },
  };
}
