import { AUDIT_KINDS, AUDIT_OPERATIONS, PARTNERS } from "@propgate/domain";
import { type AuditPage, type AuditQuery, type AuditVerdict, client } from "./api.ts";
import {
  addFilterOptions,
  byId,
  cell,
  fillTable,
  h,
  optional,
  pick,
  screenLink,
  tableById,
} from "./elements.ts";
import { createPanel } from "./panel.ts";
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

function filterOf(params: URLSearchParams): { filter: Filter; limit: number } {
  const text = (key: string) => optional(params.get(key) ?? "");
  return {
    filter: {
      userId: text("userId"),
      target: text("target"),
      operation: pick(AUDIT_OPERATIONS, params.get("operation") ?? ""),
      kind: pick(AUDIT_KINDS, params.get("kind") ?? ""),
      result: text("result"),
      partner: pick(PARTNERS, params.get("partner") ?? ""),
      from: text("from"),
      to: text("to"),
    },
    limit: Number(pick(LIMITS, params.get("limit") ?? "") ?? "50"),
  };
}

function outcome(row: AuditPage["rows"][number]): string {
  const details = [row.errorCode, row.httpStatus === null ? null : `HTTP ${row.httpStatus}`];
  const shown = details.filter((detail) => detail !== null);
  return shown.length === 0 ? row.result : `${row.result} · ${shown.join(" · ")}`;
}

/** The columns of `auditRow`'s cells. */
const COLUMNS = [
  "Seq",
  "Time",
  "Kind",
  "Operation",
  "Purpose",
  "Partner",
  "User",
  "Target",
  "Outcome",
  "Actor",
  "Reason",
  "Request id",
];

function auditRow(row: AuditPage["rows"][number]): HTMLTableRowElement {
  return h(
    "tr",
    { "data-seq": row.seq, "data-kind": row.kind },
    cell(row.seq, { class: "num" }),
    cell(timeElement(row.at)),
    cell(row.kind),
    cell(row.operation),
    cell(row.purpose),
    cell(row.partner),
    cell(row.userId ? screenLink(row.userId, "resident", { userId: row.userId }) : null),
    cell(row.target),
    cell(outcome(row), { class: `wrap result-${row.result}` }),
    cell(row.actor, { class: "wrap" }),
    cell(row.reason, { class: "wrap reason" }),
    cell(row.requestId, { class: "mono" }),
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
    result: byId("audit-result", HTMLInputElement),
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
  addFilterOptions(inputs.operation, AUDIT_OPERATIONS);
  addFilterOptions(inputs.kind, AUDIT_KINDS);
  addFilterOptions(inputs.partner, PARTNERS);

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
    if (from && to && from >= to) throw new Error("“From” must be before “Until”");
    return {
      userId: optional(inputs.userId.value),
      target: optional(inputs.target.value),
      operation: inputs.operation.value,
      kind: inputs.kind.value,
      result: optional(inputs.result.value),
      partner: inputs.partner.value,
      from,
      to,
      limit: inputs.limit.value === "50" ? undefined : inputs.limit.value,
    };
  }

  function render(next: AuditPage, number: number | null) {
    page = next;
    pageNumber = next.prevCursor === null ? 1 : number;
    fillTable(table, next.rows.map(auditRow), "No audit events match these filters.");
    // How many pages were shown so far: what tests (and scripts) wait on after a click.
    table.dataset.renders = String(Number(table.dataset.renders ?? "0") + 1);
    newer.disabled = next.prevCursor === null;
    older.disabled = next.nextCursor === null;
    const first = next.rows[0];
    const last = next.rows.at(-1);
    const ends = [
      next.prevCursor === null ? "newest" : null,
      next.nextCursor === null ? "oldest" : null,
    ].filter((end) => end !== null);
    position.textContent =
      first && last
        ? `${pageNumber === null ? "Rows" : `Page ${pageNumber}`}${ends.length ? ` (${ends.join(", ")})` : ""} · ${next.rows.length} rows · seq ${first.seq} to ${last.seq}`
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
    void panel.run(`Loading ${direction} rows`, () => loadPage(cursor, number));
  }

  function download(csv: string, name: string) {
    // A Blob URL of this document, opened by an anchor with `download`: no navigation, so the
    // CSP needs nothing beyond 'self' (checked in Chromium by admin-audit.browser.test.ts).
    const url = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
    const anchor = h("a", { href: url, download: name, hidden: true });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  function showVerdict(verdict: AuditVerdict) {
    verifyResult.className = verdict.ok ? "ok" : "bad";
    if (verdict.ok) {
      verifyResult.textContent = `Intact: ${verdict.count} events checked, ${verdict.checkpoints ?? 0} signed checkpoints matched.`;
      return;
    }
    if (verdict.firstBadSeq === null) {
      verifyResult.textContent = `Broken: ${verdict.reason}`;
      return;
    }
    const bad = verdict.firstBadSeq;
    const show = h("button", { type: "button" }, `Show row ${bad}`);
    show.addEventListener("click", () => {
      applied = { filter: {}, limit: 50, key: "" };
      fillForm({}, 50);
      void panel.run("Loading the bad row", () => loadPage(`before:${bad + 1}`, null));
    });
    verifyResult.replaceChildren(`Broken: first bad row is seq ${bad} (${verdict.reason}). `, show);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void panel.run("Applying the filters", async () => {
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
    void panel.run("Exporting the filtered rows as CSV", async () => {
      const exported = await client.admin.audit.export.query(filter);
      const stamp = new Date().toISOString().replaceAll(":", "-").slice(0, 19);
      const name = `propgate-audit-${stamp}.csv`;
      download(exported.csv, name);
      exportResult.textContent = exported.truncated
        ? `Exported the newest ${exported.rows} matching rows to ${name}; more match: narrow the filters for the rest.`
        : `Exported ${exported.rows} rows to ${name}.`;
    });
  });

  verify.addEventListener("click", () => {
    verifyResult.textContent = "";
    verifyResult.className = "";
    void panel.run("Verifying the audit chain", async () => {
      showVerdict(await client.admin.audit.verify.query());
    });
  });

  return {
    name: "audit",
    section,
    show(params) {
      const { filter, limit } = filterOf(params);
      const key = JSON.stringify([FILTER_KEYS.map((name) => filter[name] ?? ""), limit]);
      if (applied?.key === key && page) {
        // Back on this screen: the same page again, with what was written meanwhile.
        void panel.run("Loading the audit trail", () => loadPage(shownCursor, pageNumber));
        return;
      }
      applied = { filter, limit, key };
      fillForm(filter, limit);
      exportResult.textContent = "";
      void panel.run("Loading the audit trail", () => loadPage(undefined, 1));
    },
  };
}
