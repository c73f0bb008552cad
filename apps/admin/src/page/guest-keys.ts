import { canAct } from "./access.ts";
import { client, type GuestKey } from "./api.ts";
import { confirmAction } from "./confirm.ts";
import { actionButton, cell, fillTable, h, tableById } from "./elements.ts";
import { t } from "./i18n/i18n.ts";
import { timeElement } from "./time.ts";

/**
 * The resident screen's guest keys (`admin.keys.list`): those in force and those being ended at
 * the partner, never a code (none is kept); operators revoke one (`admin.keys.revoke`) after
 * the confirmation dialog, with a reason.
 */

const COLUMNS = [
  t("col.created"),
  t("keys.col.key"),
  t("keys.col.label"),
  t("keys.col.doors"),
  t("keys.col.validFrom"),
  t("keys.col.validUntil"),
  t("col.state"),
  t("col.action"),
];

export interface GuestKeysSection {
  /** Shows `userId`'s keys (inside the resident screen's panel run). */
  load(userId: string): Promise<void>;
}

export function createGuestKeysSection(changed: () => Promise<void>): GuestKeysSection {
  const table = tableById("resident-keys", COLUMNS);

  function keyRow(key: GuestKey): HTMLTableRowElement {
    const action = h("td");
    if (key.state === "active" && canAct()) {
      action.append(
        actionButton(t("resident.revoke"), t("keys.revokeLabel", { id: key.id }), () =>
          confirmAction({
            title: t("keys.revokeTitle", { id: key.id }),
            detail: t("keys.revokeDetail", {
              label: key.label ? ` “${key.label}”` : "",
              doors: key.deviceIds.join(", "),
            }),
            confirm: t("resident.revokeConfirm"),
            action: async (reason) => {
              await client.admin.keys.revoke.mutate({ keyId: key.id, reason });
              await changed();
            },
          }),
        ),
      );
    }
    const state =
      key.state === "ending" && key.endAttempts > 0
        ? t("keys.endingFailed", { count: key.endAttempts, error: key.endLastError ?? "?" })
        : t(`keys.${key.state}`);
    return h(
      "tr",
      { "data-key": key.id, "data-state": key.state },
      cell(timeElement(key.createdAt)),
      cell(key.id, { class: "mono id" }),
      cell(key.label, { translate: "no" }), // the resident's own words
      cell(key.deviceIds.join(", ")),
      cell(timeElement(key.validFrom)),
      cell(timeElement(key.validUntil)),
      cell(state, { class: `state-${key.state}` }),
      action,
    );
  }

  return {
    async load(userId) {
      const keys = await client.admin.keys.list.query({ userId });
      fillTable(table, keys.map(keyRow), t("keys.none"));
    },
  };
}
