import { client } from "./api.ts";
import { downloadFile } from "./download.ts";
import { byId } from "./elements.ts";
import { t } from "./i18n/i18n.ts";
import { createPanel, PlainMessage } from "./panel.ts";
import { toLocalInput } from "./time.ts";

/**
 * The erasures screen's export of destruction records (`admin.erasures.records`) for an
 * inspection (RKN Order No. 179): the records of erasures confirmed from one day to another, both
 * inclusive in the admin's zone, as CSV or JSON. Viewers export as they export the audit trail;
 * the api audits each export (`admin.erasures.records`).
 */

const DAY = /^\d{4}-\d\d-\d\d$/;

/** A date input's day at midnight in the admin's zone, `days` later, as an ISO instant. */
function midnight(day: string, days = 0): string {
  const instant = new Date(`${day}T00:00`); // no offset: read in the browser's zone
  instant.setDate(instant.getDate() + days); // a calendar day, also across a DST change
  return instant.toISOString();
}

/** The period asked for, or an error the panel shows (nothing is asked of the api then). */
function periodOf(from: string, to: string): { from: string; to: string } {
  if (!DAY.test(from) || !DAY.test(to)) throw new PlainMessage(t("records.choose"));
  if (to < from) throw new PlainMessage(t("records.toBeforeFrom"));
  return { from: midnight(from), to: midnight(to, 1) };
}

export function createDestructionRecordsExport(ready: Promise<unknown>): { show(): void } {
  const area = byId("destruction-records", HTMLElement);
  const form = byId("records-form", HTMLFormElement);
  const from = byId("records-from", HTMLInputElement);
  const to = byId("records-to", HTMLInputElement);
  const format = byId("records-format", HTMLSelectElement);
  const result = byId("records-result", HTMLParagraphElement);
  const panel = createPanel(area, () => ready);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    result.textContent = "";
    void panel.run(t("records.exporting"), async () => {
      const period = periodOf(from.value, to.value);
      const chosen = format.value === "json" ? "json" : "csv";
      const exported = await client.admin.erasures.records.query({ ...period, format: chosen });
      const name = `propgate-destruction-records-${from.value}-to-${to.value}.${chosen}`;
      let count: number;
      if (exported.format === "csv") {
        downloadFile(exported.csv, name, "text/csv");
        count = exported.rows;
      } else {
        // The half-open period asked for travels with the records: [destroyedFrom, destroyedBefore).
        const document = { destroyedFrom: period.from, destroyedBefore: period.to, ...exported };
        downloadFile(`${JSON.stringify(document, null, 2)}\n`, name, "application/json");
        count = exported.records.length;
      }
      result.textContent = t("records.exported", {
        count,
        from: from.value,
        to: to.value,
        file: name,
      });
    });
  });

  return {
    show() {
      // A first period to start from: this month so far.
      if (to.value === "") to.value = toLocalInput(new Date().toISOString()).slice(0, 10);
      if (from.value === "") from.value = `${to.value.slice(0, 8)}01`;
    },
  };
}
