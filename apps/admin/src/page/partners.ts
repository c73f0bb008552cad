import { PARTNERS } from "@propgate/domain";
import { client, type HealthReport } from "./api.ts";
import { byId, cell, fillTable, h, headerRow, tableById } from "./elements.ts";
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

const STATE_TEXT: Record<(typeof SEVERITY)[number], string> = {
  ok: "ok",
  failing: "failing",
  firing: "failing, alert sent",
};

function worst(checks: Check[]): Check["state"] {
  return SEVERITY.find((state) => checks.some((check) => check.state === state)) ?? "ok";
}

function partnerCard(partner: string, checks: Check[]): HTMLElement {
  if (checks.length === 0) {
    return h(
      "article",
      { class: "partner", "data-partner": partner, "data-state": "unknown" },
      h("h3", {}, partner, " ", h("span", { class: "badge state-unknown" }, "no data")),
      h("p", { class: "hint" }, "The health probe has not reported on this partner yet."),
    );
  }
  const state = worst(checks);
  const table = h(
    "table",
    {},
    h("thead", {}, headerRow(["Check", "State", "Failures in a row", "Since", "Last error"])),
    h(
      "tbody",
      {},
      ...checks.map((check) =>
        h(
          "tr",
          { "data-check": check.check, "data-state": check.state },
          h("th", { scope: "row" }, check.check),
          cell(STATE_TEXT[check.state], { class: `state-${check.state}` }),
          cell(check.consecutiveFailures, { class: "num" }),
          cell(timeElement(check.since)),
          cell(check.lastError),
        ),
      ),
    ),
  );
  return h(
    "article",
    { class: "partner", "data-partner": partner, "data-state": state },
    h(
      "h3",
      {},
      partner,
      " ",
      h("span", { class: `badge state-${state}` }, state === "ok" ? "healthy" : STATE_TEXT[state]),
    ),
    table,
  );
}

const TRANSITION_COLUMNS = ["Time", "Partner", "Check", "Change", "Error"];

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
          cell(transition.partner),
          cell(transition.check),
          cell(
            h(
              "span",
              {},
              `${transition.from} → `,
              h("span", { class: `state-${transition.to}` }, transition.to),
            ),
          ),
          cell(transition.error),
        ),
      ),
      "No transitions recorded yet.",
    );
    updated.textContent = `Updated ${formatTime(new Date().toISOString())}; refreshed every ${REFRESH_MS / 1000} s while open.`;
  }
  const reload = async () => {
    await panel.run("Loading partner health", load);
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
