import type { CodeGroup } from "./i18n/codes.ts";
import { explanation, locale, t } from "./i18n/i18n.ts";

/**
 * Building the page's elements: text only through `textContent`, attributes through
 * `setAttribute`, never HTML strings or inline handlers (the CSP allows no inline script).
 */

export type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | null | undefined>;

/** `h("td", { class: "mono" }, "text")`: an element with attributes (false/null/undefined left off). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) throw new Error(`no inline handlers (${name})`);
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** The element with this id, of this type, or an error naming it. */
export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`#${id} is missing from the page`);
  return found;
}

/** A table cell; an empty value shows as a dash. */
export function cell(value: Child, attributes: Attributes = {}): HTMLTableCellElement {
  const empty = value === null || value === undefined || value === "" || value === false;
  // Ids are the same in every language: marked so (a translator, and the i18n test, skip them).
  const id = /\b(id|mono)\b/.test(String(attributes.class ?? ""));
  return h("td", id ? { translate: "no", ...attributes } : attributes, empty ? "—" : value);
}

/** A button that does one thing; `label` is what a screen reader says when it differs. */
export function actionButton(
  text: string,
  label: string,
  onClick: (button: HTMLButtonElement) => void,
): HTMLButtonElement {
  const button = h("button", { type: "button", "aria-label": label }, text);
  button.addEventListener("click", () => onClick(button));
  return button;
}

/** A link to another screen (hash routing), e.g. a resident's page from an audit row. */
export function screenLink(text: string, screen: string, params: Record<string, string>) {
  return h("a", { href: `#/${screen}?${new URLSearchParams(params)}` }, text);
}

/** A table's header row: one `<th scope="col">` per column name. */
export function headerRow(columns: readonly string[]): HTMLTableRowElement {
  return h("tr", {}, ...columns.map((name) => h("th", { scope: "col" }, name)));
}

/**
 * The page's table with this id, headed by `columns`: the module that fills the rows names the
 * columns, so a column is added in one place.
 */
export function tableById(id: string, columns: readonly string[]): HTMLTableElement {
  const table = byId(id, HTMLTableElement);
  table.createTHead().replaceChildren(headerRow(columns));
  if (table.tBodies.length === 0) table.createTBody();
  return table;
}

/** Replaces a table's body; with no rows, one row that says so across every column. */
export function fillTable(table: HTMLTableElement, rows: HTMLTableRowElement[], empty: string) {
  const body = table.tBodies[0] ?? table.createTBody();
  if (rows.length === 0) {
    const columns = table.tHead?.rows[0]?.cells.length ?? 1;
    rows.push(h("tr", { class: "empty" }, h("td", { colspan: columns }, empty)));
  }
  body.replaceChildren(...rows);
  labelCells(table);
}

/**
 * Each body cell names its column (`data-label`): on a phone the rows stack as cards and the
 * style shows the name before the value (admin.css).
 */
export function labelCells(table: HTMLTableElement) {
  const names = [...(table.tHead?.rows[0]?.cells ?? [])].map((cell) => cell.textContent ?? "");
  for (const body of table.tBodies)
    for (const row of body.rows) {
      if (row.classList.contains("empty") || row.classList.contains("history-row")) continue;
      [...row.cells].forEach((cell, index) => {
        const name = names[index];
        if (name && cell.tagName === "TD") cell.dataset.label = name;
      });
    }
}

/**
 * A filter's `<select>`: "any" (the empty value), then one of the domain's lists, each code
 * with its explanation in the admin's language.
 */
export function addFilterOptions(
  select: HTMLSelectElement,
  values: readonly string[],
  group: CodeGroup,
) {
  select.append(h("option", { value: "" }, t("app.any")));
  for (const value of values) {
    const explained = explanation(group, value);
    select.append(h("option", { value }, explained ? `${explained} · ${value}` : value));
  }
}

/**
 * A code as stored (`admin.devices.upsert`, `FORBIDDEN_DEVICE`) with its plain-language
 * explanation beside it; the code is marked `translate="no"`, the same in every language.
 */
export function explained(group: CodeGroup, code: string | null | undefined): HTMLElement | null {
  if (code === null || code === undefined || code === "") return null;
  const text = explanation(group, code);
  return h(
    "span",
    { class: "explained", "data-code": code },
    h("code", { translate: "no" }, code),
    text ? h("span", { class: "explain" }, text) : null,
  );
}

/** An admin as every screen names them: the id alone (`admin:dev-operator` → `dev-operator`). */
export function actorName(actor: string | null | undefined): string | null {
  if (!actor) return null;
  return actor.startsWith("admin:") ? actor.slice("admin:".length) : actor;
}

/** One of `values` or undefined for "any" (a select can only hold what was put in it). */
export function pick<T extends string>(values: readonly T[], value: string): T | undefined {
  return values.find((known) => known === value);
}

/** A trimmed text input's value, or undefined when blank. */
export function optional(value: string): string | undefined {
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

/** Bytes as people read them in the admin's language (1.2 MB, 1,2 МБ). */
export function bytes(count: number): string {
  const units = ["byte", "kilobyte", "megabyte", "gigabyte", "terabyte"];
  let value = count;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return new Intl.NumberFormat(locale, {
    style: "unit",
    unit: units[unit],
    unitDisplay: "short",
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(value);
}
