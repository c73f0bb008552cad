import { PARTNERS } from "@propgate/domain";
import { client, type HealthReport } from "./api.ts";
import {
  byId,
  cell,
  explained,
  fillTable,
  h,
  headerRow,
  labelCells,
  tableById,
} from "./elements.ts";
import { type MessageKey, t } from "./i18n/i18n.ts";
import { createPanel } from "./panel.ts";
import type { Screen } from "./router.ts";
import { formatTime, timeElement } from "./time.ts";

/**
 * Partner health as the health probe last saw it (`admin.partners.health`): each partner's
 * checks (token, health, certificate) with their state, failures in a row, since when and the
 * last error; and the recent transitions. Refreshed every 15 s while the screen is open.
 */

const REFRESH_MS = 15_000;
type Check = HealthReport["checks"][number];
/** Worst first: a partner is shown in the state of its worst check. */
const SEVERITY = ["firing", "failing", "ok"] as const;

const STATE_TEXT: Record<(typeof SEVERITY)[number], MessageKey> = {
  ok: "partners.ok",
  failing: "partners.failing",
  firing: "partners.firing",
};

/** A probe's check by name (token, health, certificate); one we do not know, as it is. */
export function checkName(check: string): string {
  const key = `partners.check.${check}`;
  return key === "partners.check.token" ||
    key === "partners.check.health" ||
    key === "partners.check.certificate"
    ? t(key)
    : check;
}

function worst(checks: Check[]): Check["state"] {
  return SEVERITY.find((state) => checks.some((check) => check.state === state)) ?? "ok";
}

function partnerCard(partner: string, checks: Check[]): HTMLElement {
  if (checks.length === 0) {
    return h(
      "article",
      { class: "partner", "data-partner": partner, "data-state": "unknown" },
      h(
        "h3",
        {},
        explained("partner", partner),
        " ",
        h("span", { class: "badge state-unknown" }, t("partners.noData")),
      ),
      h("p", { class: "hint" }, t("partners.noDataHint")),
    );
  }
  const state = worst(checks);
  const table = h(
    "table",
    {},
    h(
      "thead",
      {},
      headerRow([
        t("partners.col.check"),
        t("col.state"),
        t("partners.col.failures"),
        t("partners.col.since"),
        t("col.lastError"),
      ]),
    ),
    h(
      "tbody",
      {},
      ...checks.map((check) =>
        h(
          "tr",
          { "data-check": check.check, "data-state": check.state },
          h("th", { scope: "row" }, checkName(check.check)),
          cell(t(STATE_TEXT[check.state]), { class: `state-${check.state}` }),
          cell(check.consecutiveFailures, { class: "num" }),
          cell(timeElement(check.since)),
          cell(check.lastError, { translate: "no" }), // as the probe saw it
        ),
      ),
    ),
  );
  labelCells(table);
  return h(
    "article",
    { class: "partner", "data-partner": partner, "data-state": state },
    h(
      "h3",
      {},
      explained("partner", partner),
      " ",
      h(
        "span",
        { class: `badge state-${state}` },
        state === "ok" ? t("partners.healthy") : t(STATE_TEXT[state]),
      ),
    ),
    table,
  );
}

const TRANSITION_COLUMNS = [
  t("col.time"),
  t("col.partner"),
  t("partners.col.check"),
  t("partners.col.change"),
  t("partners.col.error"),
];

/** A transition's state (`ok`, `failing`, `firing`) in words. */
const stateName = (state: string) =>
  state === "ok" || state === "failing" || state === "firing" ? t(STATE_TEXT[state]) : state;

export function createPartnersScreen(ready: Promise<unknown>): Screen {
  const section = byId("screen-partners", HTMLElement);
  const refresh = byId("partners-refresh", HTMLButtonElement);
  const updated = byId("partners-updated", HTMLParagraphElement);
  const cards = byId("partners", HTMLDivElement);
  const transitions = tableById("partner-transitions", TRANSITION_COLUMNS);
  const panel = createPanel(section, () => ready);
  let timer: ReturnType<typeof setInterval> | undefined;

  async function load() {
    const report = await client.admin.partners.health.query({ transitions: 50 });
    const known = [
      ...PARTNERS,
      ...report.checks
        .map((check) => check.partner)
        .filter((name) => !PARTNERS.some((p) => p === name)),
    ];
    cards.replaceChildren(
      ...[...new Set(known)].map((partner) =>
        partnerCard(
          partner,
          report.checks.filter((check) => check.partner === partner),
        ),
      ),
    );
    fillTable(
      transitions,
      report.transitions.map((transition) =>
        h(
          "tr",
          { "data-partner": transition.partner, "data-to": transition.to },
          cell(timeElement(transition.at)),
          cell(explained("partner", transition.partner)),
          cell(checkName(transition.check)),
          cell(
            h(
              "span",
              {},
              `${stateName(transition.from)} → `,
              h("span", { class: `state-${transition.to}` }, stateName(transition.to)),
            ),
          ),
          cell(transition.error, { translate: "no" }),
        ),
      ),
      t("partners.none"),
    );
    updated.textContent = t("partners.updated", {
      time: formatTime(new Date().toISOString()),
      seconds: REFRESH_MS / 1000,
    });
  }
  const reload = async () => {
    await panel.run(t("partners.loading"), load);
  };

  refresh.addEventListener("click", () => void reload());
  return {
    name: "partners",
    section,
    show() {
      void reload();
      clearInterval(timer);
      timer = setInterval(() => void reload(), REFRESH_MS);
    },
    hide() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
