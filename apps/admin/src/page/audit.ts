import { AUDIT_KINDS, AUDIT_OPERATIONS, AUDIT_RESULTS, PARTNERS } from "@propgate/domain";
import { type AuditPage, type AuditQuery, type AuditVerdict, client } from "./api.ts";
import { downloadFile } from "./download.ts";
import {
  actorName,
  addFilterOptions,
  byId,
  cell,
  explained,
  fillTable,
  h,
  optional,
  pick,
  screenLink,
  tableById,
} from "./elements.ts";
import { type MessageKey, t } from "./i18n/i18n.ts";
import { createPanel, PlainMessage } from "./panel.ts";
import { navigate, type Screen } from "./router.ts";
import { fromLocalInput, timeElement, toLocalInput } from "./time.ts";

/**
 * The audit trail (`admin.audit.list`): filters, keyset pages newer and older by the api's
 * cursors (as fast deep down as on the first page), the filtered rows as a CSV download
 * (`admin.audit.export`), and the hash chain's verdict (`admin.audit.verify`).
 */

type Query = NonNullable<AuditQuery>;
type Filter = Omit<Query, "limit" | "cursor">;

/** The filters as they appear in the address (`#/audit?userId=…`), in this order. */
const FILTER_KEYS = [
  "userId",
  "target",
  "operation",
  "kind",
  "result",
  "partner",
  "from",
  "to",
] as const satisfies readonly (keyof Filter)[];
const LIMITS = ["50", "100", "200", "500"] as const;

/** The label of each filter, for the messages that name one. */
const LABELS: Record<(typeof FILTER_KEYS)[number], MessageKey> = {
  userId: "audit.filter.user",
  target: "audit.filter.target",
  operation: "audit.filter.operation",
  kind: "audit.filter.kind",
  result: "audit.filter.result",
  partner: "audit.filter.partner",
  from: "audit.filter.from",
  to: "audit.filter.to",
};
const MAX_TEXT = 128;

/**
 * The filters of an address, or the reasons in plain words why they cannot be applied (a value
 * that is none of a list's, too long, an unreadable instant, "From" not before "Until"): then no
 * rows are shown, rather than rows under other filters than the address says.
 */
function filterOf(params: URLSearchParams): { filter: Filter; limit: number } {
  const problems: string[] = [];
  const field = (key: (typeof FILTER_KEYS)[number]) => t(LABELS[key]);
  const text = (key: "userId" | "target") => {
    const value = optional(params.get(key) ?? "");
    if (value !== undefined && value.length > MAX_TEXT)
      problems.push(t("audit.tooLong", { field: field(key), max: MAX_TEXT }));
    return value;
  };
  const listed = <T extends string>(key: (typeof FILTER_KEYS)[number], values: readonly T[]) => {
    const value = params.get(key) ?? "";
    const known = pick(values, value);
    if (value !== "" && known === undefined)
      problems.push(t("audit.badValue", { field: field(key), value }));
    return known;
  };
  const instant = (key: "from" | "to") => {
    const value = optional(params.get(key) ?? "");
    if (value === undefined) return undefined;
    if (Number.isNaN(Date.parse(value)) || !/^\d{4}-\d\d-\d\dT/.test(value)) {
      problems.push(t("audit.badValue", { field: field(key), value }));
      return undefined;
    }
    return value;
  };
  const filter: Filter = {
    userId: text("userId"),
    target: text("target"),
    operation: listed("operation", AUDIT_OPERATIONS),
    kind: listed("kind", AUDIT_KINDS),
    result: listed("result", AUDIT_RESULTS),
    partner: listed("partner", PARTNERS),
    from: instant("from"),
    to: instant("to"),
  };
  if (problems.length > 0) throw new PlainMessage(t("audit.badFilter"), problems);
  if (filter.from && filter.to && Date.parse(filter.from) >= Date.parse(filter.to))
    throw new PlainMessage(t("audit.fromAfterUntil"));
  return { filter, limit: Number(pick(LIMITS, params.get("limit") ?? "") ?? "50") };
}

/** The outcome with its explanation, then the refusal's cause with its own (`denied · FORBIDDEN_DEVICE`). */
function outcome(row: AuditPage["rows"][number]): HTMLElement {
  return h(
    "span",
    {},
    explained("result", row.result),
    row.errorCode ? h("span", {}, " · ", explained("cause", row.errorCode)) : null,
    row.httpStatus === null ? null : h("span", { translate: "no" }, ` · HTTP ${row.httpStatus}`),
  );
}

/** The columns of `auditRow`'s cells. */
const COLUMNS = [
  t("audit.col.seq"),
  t("col.time"),
  t("col.kind"),
  t("audit.col.operation"),
  t("audit.col.purpose"),
  t("col.partner"),
  t("col.user"),
  t("audit.col.target"),
  t("col.outcome"),
  t("audit.col.actor"),
  t("col.reason"),
  t("audit.col.requestId"),
];

function auditRow(row: AuditPage["rows"][number]): HTMLTableRowElement {
  return h(
    "tr",
    { "data-seq": row.seq, "data-kind": row.kind },
    cell(row.seq, { class: "num" }),
    cell(timeElement(row.at)),
    cell(explained("kind", row.kind), { class: "wrap" }),
    cell(explained("operation", row.operation), { class: "wrap" }),
    cell(explained("purpose", row.purpose), { class: "wrap" }),
    cell(explained("partner", row.partner), { class: "wrap" }),
    cell(row.userId ? screenLink(row.userId, "resident", { userId: row.userId }) : null, {
      class: "id",
    }),
    cell(row.target, { class: "id" }),
    cell(outcome(row), { class: `wrap result-${row.result}` }),
    cell(actorName(row.actor), { class: "id" }),
    cell(row.reason, { class: "wrap reason" }),
    // The trace the row's request made (when traced): its id finds it in the tracing backend.
    cell(
      row.traceId === null
        ? row.requestId
        : h(
            "span",
            {},
            row.requestId ?? "—",
            h(
              "span",
              { class: "trace", "data-trace": row.traceId },
              t("audit.trace", { id: row.traceId }),
            ),
          ),
      { class: "mono id" },
    ),
  );
}

export function createAuditScreen(ready: Promise<unknown>): Screen {
  const section = byId("screen-audit", HTMLElement);
  const form = byId("audit-form", HTMLFormElement);
  const inputs = {
    userId: byId("audit-user", HTMLInputElement),
    target: byId("audit-target", HTMLInputElement),
    operation: byId("audit-operation", HTMLSelectElement),
    kind: byId("audit-kind", HTMLSelectElement),
    result: byId("audit-result", HTMLSelectElement),
    partner: byId("audit-partner", HTMLSelectElement),
    from: byId("audit-from", HTMLInputElement),
    to: byId("audit-to", HTMLInputElement),
    limit: byId("audit-limit", HTMLSelectElement),
  };
  const clear = byId("audit-clear", HTMLButtonElement);
  const newer = byId("audit-newer", HTMLButtonElement);
  const older = byId("audit-older", HTMLButtonElement);
  const position = byId("audit-position", HTMLParagraphElement);
  const exportButton = byId("audit-export", HTMLButtonElement);
  const exportResult = byId("audit-export-result", HTMLParagraphElement);
  const verify = byId("verify", HTMLButtonElement);
  const verifyResult = byId("verify-result", HTMLParagraphElement);
  const table = tableById("audit", COLUMNS);
  const panel = createPanel(section, () => ready);
  addFilterOptions(inputs.operation, AUDIT_OPERATIONS, "operation");
  addFilterOptions(inputs.kind, AUDIT_KINDS, "kind");
  addFilterOptions(inputs.result, AUDIT_RESULTS, "result");
  addFilterOptions(inputs.partner, PARTNERS, "partner");

  /** The filters of the rows shown (not what is typed and not yet applied). */
  let applied: { filter: Filter; limit: number; key: string } | null = null;
  let page: AuditPage | null = null;
  /** The cursor of the page shown (undefined: the newest page). */
  let shownCursor: string | undefined;
  /** Counted from the newest page; null after a jump to one row (the verdict's). */
  let pageNumber: number | null = 1;

  function fillForm(filter: Filter, limit: number) {
    inputs.userId.value = filter.userId ?? "";
    inputs.target.value = filter.target ?? "";
    inputs.operation.value = filter.operation ?? "";
    inputs.kind.value = filter.kind ?? "";
    inputs.result.value = filter.result ?? "";
    inputs.partner.value = filter.partner ?? "";
    inputs.from.value = toLocalInput(filter.from);
    inputs.to.value = toLocalInput(filter.to);
    inputs.limit.value = String(limit);
  }

  /** The form as address parameters; times typed in the admin's zone become instants. */
  function formParams(): Record<string, string | undefined> {
    const from = fromLocalInput(inputs.from.value);
    const to = fromLocalInput(inputs.to.value);
    if (from && to && from >= to) {
      clearRows();
      throw new PlainMessage(t("audit.fromAfterUntil"));
    }
    return {
      userId: optional(inputs.userId.value),
      target: optional(inputs.target.value),
      operation: inputs.operation.value,
      kind: inputs.kind.value,
      result: inputs.result.value,
      partner: inputs.partner.value,
      from,
      to,
      limit: inputs.limit.value === "50" ? undefined : inputs.limit.value,
    };
  }

  /** No rows under a filter that could not be applied: stale rows would read as its results. */
  function clearRows() {
    page = null;
    applied = null;
    table.tBodies[0]?.replaceChildren();
    table.dataset.renders = String(Number(table.dataset.renders ?? "0") + 1);
    newer.disabled = true;
    older.disabled = true;
    position.textContent = "";
  }

  function render(next: AuditPage, number: number | null) {
    page = next;
    pageNumber = next.prevCursor === null ? 1 : number;
    fillTable(table, next.rows.map(auditRow), t("audit.none"));
    // How many pages were shown so far: what tests (and scripts) wait on after a click.
    table.dataset.renders = String(Number(table.dataset.renders ?? "0") + 1);
    newer.disabled = next.prevCursor === null;
    older.disabled = next.nextCursor === null;
    const first = next.rows[0];
    const last = next.rows.at(-1);
    const ends = [
      next.prevCursor === null ? t("audit.newest") : null,
      next.nextCursor === null ? t("audit.oldest") : null,
    ].filter((end) => end !== null);
    const where = pageNumber === null ? t("audit.rows") : t("audit.page", { page: pageNumber });
    position.textContent =
      first && last
        ? t("audit.position", {
            where: `${where}${ends.length ? ` (${ends.join(", ")})` : ""}`,
            count: next.rows.length,
            // Row numbers are ids: never grouped as counts are.
            first: String(first.seq),
            last: String(last.seq),
          })
        : "";
    position.dataset.page = String(pageNumber ?? "");
  }

  async function loadPage(cursor: string | undefined, number: number | null) {
    if (!applied) return;
    const { filter, limit } = applied;
    render(await client.admin.audit.list.query({ ...filter, limit, cursor }), number);
    shownCursor = cursor;
  }

  function turn(direction: "newer" | "older") {
    const cursor = direction === "newer" ? page?.prevCursor : page?.nextCursor;
    if (!cursor) return;
    const number =
      pageNumber === null ? null : Math.max(1, pageNumber + (direction === "newer" ? -1 : 1));
    const label = direction === "newer" ? t("audit.loadingNewer") : t("audit.loadingOlder");
    void panel.run(label, () => loadPage(cursor, number));
  }

  function showVerdict(verdict: AuditVerdict) {
    verifyResult.className = verdict.ok ? "ok" : "bad";
    if (verdict.ok) {
      verifyResult.textContent = t("audit.intact", {
        count: verdict.count,
        checkpoints: verdict.checkpoints ?? 0,
      });
      return;
    }
    if (verdict.firstBadSeq === null) {
      verifyResult.textContent = t("audit.broken", { reason: verdict.reason });
      return;
    }
    const bad = verdict.firstBadSeq;
    const show = h("button", { type: "button" }, t("audit.showRow", { seq: String(bad) }));
    show.addEventListener("click", () => {
      applied = { filter: {}, limit: 50, key: "" };
      fillForm({}, 50);
      void panel.run(t("audit.loadingBad"), () => loadPage(`before:${bad + 1}`, null));
    });
    verifyResult.replaceChildren(
      t("audit.brokenAt", { seq: String(bad), reason: verdict.reason }),
      show,
    );
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void panel.run(t("audit.applying"), async () => {
      const params = formParams();
      applied = null; // the first page again, even under the same filters
      navigate("audit", params);
    });
  });
  clear.addEventListener("click", () => {
    form.reset();
    applied = null;
    navigate("audit");
  });
  newer.addEventListener("click", () => turn("newer"));
  older.addEventListener("click", () => turn("older"));

  exportButton.addEventListener("click", () => {
    exportResult.textContent = "";
    const filter = applied?.filter ?? {};
    void panel.run(t("audit.exporting"), async () => {
      const exported = await client.admin.audit.export.query(filter);
      const stamp = new Date().toISOString().replaceAll(":", "-").slice(0, 19);
      const name = `propgate-audit-${stamp}.csv`;
      downloadFile(exported.csv, name, "text/csv");
      exportResult.textContent = t(exported.truncated ? "audit.exportedCut" : "audit.exported", {
        count: exported.rows,
        file: name,
      });
    });
  });

  verify.addEventListener("click", () => {
    verifyResult.textContent = "";
    verifyResult.className = "";
    void panel.run(t("audit.verifying"), async () => {
      showVerdict(await client.admin.audit.verify.query());
    });
  });

  return {
    name: "audit",
    section,
    show(params) {
      let parsed: ReturnType<typeof filterOf>;
      try {
        parsed = filterOf(params);
      } catch (failure) {
        clearRows();
        void panel.run(t("audit.applying"), () => Promise.reject(failure));
        return;
      }
      const { filter, limit } = parsed;
      const key = JSON.stringify([FILTER_KEYS.map((name) => filter[name] ?? ""), limit]);
      if (applied?.key === key && page) {
        // Back on this screen: the same page again, with what was written meanwhile.
        void panel.run(t("audit.loading"), () => loadPage(shownCursor, pageNumber));
        return;
      }
      applied = { filter, limit, key };
      fillForm(filter, limit);
      exportResult.textContent = "";
      void panel.run(t("audit.loading"), () =>
        // Refused by the api: no rows rather than the last filter's.
        loadPage(undefined, 1).catch((failure: unknown) => {
          clearRows();
          throw failure;
        }),
      );
    },
  };
}
