import { ANOMALY_KINDS, BLOCK_SUBJECT_TYPES, clientNetwork } from "@propgate/domain";
import { canAct } from "./access.ts";
import { type Anomaly, type Block, client } from "./api.ts";
import { confirmAction } from "./confirm.ts";
import {
  actionButton,
  addFilterOptions,
  byId,
  cell,
  fillTable,
  h,
  optional,
  pick,
  tableById,
} from "./elements.ts";
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
  return h("span", {}, h("span", { class: "hint" }, `${type} `), shownSubjectId(type, id));
}

function blockState(block: Block): "lifted" | "expired" | "in force" {
  if (block.liftedAt) return "lifted";
  return Date.parse(block.expiresAt) <= Date.now() ? "expired" : "in force";
}

const BLOCK_COLUMNS = [
  "Placed",
  "Block",
  "Subject",
  "Kind",
  "Offence",
  "Expires",
  "State",
  "Action",
];
const ANOMALY_COLUMNS = [
  "Last seen",
  "Kind",
  "Subject",
  "Count / threshold",
  "Window",
  "First seen",
  "Block",
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
  addFilterOptions(kind, ANOMALY_KINDS);
  addFilterOptions(subjectType, BLOCK_SUBJECT_TYPES);

  const reload = async () => {
    await panel.run("Loading anomalies and blocks", load);
  };

  function blockRow(block: Block): HTMLTableRowElement {
    const state = blockState(block);
    const action = h("td");
    if (state === "in force" && canAct()) {
      action.append(
        actionButton("Lift", `Lift block ${block.id}`, () =>
          confirmAction({
            title: `Lift block ${block.id}`,
            detail: `The ${block.subjectType} ${shownSubjectId(block.subjectType, block.subjectId)} is let through again at once, on every api instance, before the block's expiry.`,
            confirm: "Confirm lift",
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
            "lifted ",
            timeElement(block.liftedAt),
            ` by ${block.liftedBy ?? "?"}`,
            block.liftReason ? `: ${block.liftReason}` : null,
          )
        : state;
    return h(
      "tr",
      { "data-block": block.id, "data-state": state, "data-subject-type": block.subjectType },
      cell(timeElement(block.createdAt)),
      cell(block.id, { class: "mono" }),
      cell(subject(block.subjectType, block.subjectId)),
      cell(block.kind),
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
      cell(anomaly.kind),
      cell(subject(anomaly.subjectType, anomaly.subjectId)),
      cell(`${anomaly.count} / ${anomaly.threshold}`, { class: "num" }),
      cell(
        h("span", {}, `${duration(anomaly.windowSeconds)} from `, timeElement(anomaly.windowStart)),
      ),
      cell(timeElement(anomaly.firstSeen)),
      cell(anomaly.blockId, { class: "mono" }),
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
      activeOnly.checked ? "No blocks in force." : "No blocks match.",
    );
    fillTable(anomalies, foundAnomalies.map(anomalyRow), "No anomalies match.");
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void reload();
  });
  return { name: "watch", section, show: () => void reload() };
}
