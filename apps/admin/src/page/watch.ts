import { ANOMALY_KINDS, BLOCK_SUBJECT_TYPES, clientNetwork } from "@propgate/domain";
import { canAct } from "./access.ts";
import { type Anomaly, type Block, client } from "./api.ts";
import { confirmAction } from "./confirm.ts";
import {
  actionButton,
  actorName,
  addFilterOptions,
  byId,
  cell,
  explained,
  fillTable,
  h,
  optional,
  pick,
  tableById,
} from "./elements.ts";
import { type MessageKey, t } from "./i18n/i18n.ts";
import { createPanel } from "./panel.ts";
import type { Screen } from "./router.ts";
import { duration, timeElement } from "./time.ts";

/**
 * What the watch rules found (`admin.anomalies.list`) and the blocks they placed
 * (`admin.blocks.list`); operators **Lift** a block in force, with a reason.
 */

/** A client address is shown cut to its network; the subject id filter takes the whole address. */
const shownSubjectId = (type: string, id: string) => (type === "ip" ? clientNetwork(id) : id);

function subject(type: string, id: string) {
  return h(
    "span",
    {},
    explained("subject", type),
    " ",
    h("span", { class: "id" }, shownSubjectId(type, id)),
  );
}

const STATE_TEXT = {
  lifted: "watch.lifted",
  expired: "watch.expired",
  "in force": "watch.inForce",
} as const;

function blockState(block: Block): "lifted" | "expired" | "in force" {
  if (block.liftedAt) return "lifted";
  return Date.parse(block.expiresAt) <= Date.now() ? "expired" : "in force";
}

const BLOCK_COLUMNS = [
  t("watch.col.placed"),
  t("watch.col.block"),
  t("watch.col.subject"),
  t("col.kind"),
  t("watch.col.offence"),
  t("watch.col.expires"),
  t("col.state"),
  t("col.action"),
];
const ANOMALY_COLUMNS = [
  t("watch.col.lastSeen"),
  t("col.kind"),
  t("watch.col.subject"),
  t("watch.col.count"),
  t("watch.col.window"),
  t("watch.col.firstSeen"),
  t("watch.col.block"),
];

export function createWatchScreen(ready: Promise<unknown>): Screen {
  const section = byId("screen-watch", HTMLElement);
  const form = byId("watch-form", HTMLFormElement);
  const kind = byId("watch-kind", HTMLSelectElement);
  const subjectType = byId("watch-subject-type", HTMLSelectElement);
  const subjectId = byId("watch-subject-id", HTMLInputElement);
  const activeOnly = byId("watch-active", HTMLInputElement);
  const blocks = tableById("blocks", BLOCK_COLUMNS);
  const anomalies = tableById("anomalies", ANOMALY_COLUMNS);
  const panel = createPanel(section, () => ready);
  addFilterOptions(kind, ANOMALY_KINDS, "anomaly");
  addFilterOptions(subjectType, BLOCK_SUBJECT_TYPES, "subject");

  const reload = async () => {
    await panel.run(t("watch.loading"), load);
  };

  function blockRow(block: Block): HTMLTableRowElement {
    const state = blockState(block);
    const action = h("td");
    if (state === "in force" && canAct()) {
      action.append(
        actionButton(t("watch.lift"), t("watch.liftLabel", { id: block.id }), () =>
          confirmAction({
            title: t("watch.liftTitle", { id: block.id }),
            detail: t("watch.liftDetail", {
              type: t(`subject.${block.subjectType}` as MessageKey),
              subject: shownSubjectId(block.subjectType, block.subjectId),
            }),
            confirm: t("watch.liftConfirm"),
            action: async (reason) => {
              await client.admin.blocks.lift.mutate({ blockId: block.id, reason });
              await reload();
            },
          }),
        ),
      );
    }
    const stateCell =
      state === "lifted"
        ? h(
            "span",
            {},
            `${t("watch.lifted")} `,
            timeElement(block.liftedAt),
            t("watch.liftedBy", { name: actorName(block.liftedBy) ?? "?" }),
            block.liftReason ? `: ${block.liftReason}` : null,
          )
        : t(STATE_TEXT[state]);
    return h(
      "tr",
      { "data-block": block.id, "data-state": state, "data-subject-type": block.subjectType },
      cell(timeElement(block.createdAt)),
      cell(block.id, { class: "mono id" }),
      cell(subject(block.subjectType, block.subjectId)),
      cell(explained("anomaly", block.kind)),
      cell(block.offence, { class: "num" }),
      cell(timeElement(block.expiresAt)),
      cell(stateCell, { class: `state-${state.replace(" ", "-")}` }),
      action,
    );
  }

  function anomalyRow(anomaly: Anomaly): HTMLTableRowElement {
    return h(
      "tr",
      { "data-anomaly": anomaly.id, "data-kind": anomaly.kind },
      cell(timeElement(anomaly.lastSeen)),
      cell(explained("anomaly", anomaly.kind)),
      cell(subject(anomaly.subjectType, anomaly.subjectId)),
      cell(`${anomaly.count} / ${anomaly.threshold}`, { class: "num" }),
      cell(
        h(
          "span",
          {},
          t("watch.windowFrom", { duration: duration(anomaly.windowSeconds) }),
          timeElement(anomaly.windowStart),
        ),
      ),
      cell(timeElement(anomaly.firstSeen)),
      cell(anomaly.blockId, { class: "mono id" }),
    );
  }

  async function load() {
    const query = {
      kind: pick(ANOMALY_KINDS, kind.value),
      subjectType: pick(BLOCK_SUBJECT_TYPES, subjectType.value),
      subjectId: optional(subjectId.value),
    };
    const [foundBlocks, foundAnomalies] = await Promise.all([
      client.admin.blocks.list.query({ ...query, activeOnly: activeOnly.checked || undefined }),
      client.admin.anomalies.list.query(query),
    ]);
    fillTable(
      blocks,
      foundBlocks.map(blockRow),
      activeOnly.checked ? t("watch.noneInForce") : t("watch.noBlocks"),
    );
    fillTable(anomalies, foundAnomalies.map(anomalyRow), t("watch.noAnomalies"));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void reload();
  });
  return { name: "watch", section, show: () => void reload() };
}
