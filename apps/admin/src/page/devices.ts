import { DEVICE_KINDS, PARTNERS } from "@propgate/domain";
import { client, type Device } from "./api.ts";
import {
  addFilterOptions,
  byId,
  cell,
  explained,
  fillTable,
  h,
  screenLink,
  tableById,
} from "./elements.ts";
import { t } from "./i18n/i18n.ts";
import { createPanel } from "./panel.ts";
import type { Screen } from "./router.ts";
import { timeElement } from "./time.ts";

/**
 * The devices Propgate knows (`admin.devices.list`): doors, gates and cameras per site and
 * partner. Narrowed in the page as the admin types; the list is reloaded on demand.
 */

const COLUMNS = [
  t("col.device"),
  t("col.kind"),
  t("col.site"),
  t("col.partner"),
  t("devices.col.partnerId"),
  t("devices.col.name"),
  t("devices.col.updated"),
];

export function createDevicesScreen(ready: Promise<unknown>): Screen {
  const section = byId("screen-devices", HTMLElement);
  const form = byId("devices-form", HTMLFormElement);
  const search = byId("devices-search", HTMLInputElement);
  const kind = byId("devices-kind", HTMLSelectElement);
  const partner = byId("devices-partner", HTMLSelectElement);
  const count = byId("devices-count", HTMLParagraphElement);
  const table = tableById("devices", COLUMNS);
  const panel = createPanel(section, () => ready);
  addFilterOptions(kind, DEVICE_KINDS, "device");
  addFilterOptions(partner, PARTNERS, "partner");
  let devices: Device[] | null = null;

  function render() {
    if (!devices) return;
    const text = search.value.trim().toLowerCase();
    const shown = devices.filter(
      (device) =>
        (kind.value === "" || device.kind === kind.value) &&
        (partner.value === "" || device.partner === partner.value) &&
        (text === "" ||
          [device.id, device.siteId, device.name].some((field) =>
            field.toLowerCase().includes(text),
          )),
    );
    count.textContent =
      shown.length === devices.length
        ? t("devices.count", { count: devices.length })
        : t("devices.countOf", { count: shown.length, total: devices.length });
    fillTable(
      table,
      shown.map((device) =>
        h(
          "tr",
          { "data-device": device.id, "data-kind": device.kind },
          h("th", { scope: "row" }, screenLink(device.id, "audit", { target: device.id })),
          cell(explained("device", device.kind)),
          cell(device.siteId, { class: "id" }),
          cell(explained("partner", device.partner)),
          cell(device.partnerDeviceId, { class: "mono id" }),
          cell(device.name, { translate: "no" }), // the estate's own name for it
          cell(timeElement(device.updatedAt)),
        ),
      ),
      devices.length === 0 ? t("devices.none") : t("devices.noMatch"),
    );
  }

  const reload = async () => {
    await panel.run(t("devices.loading"), async () => {
      devices = await client.admin.devices.list.query();
      render();
    });
  };

  for (const input of [search, kind, partner]) input.addEventListener("input", render);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void reload();
  });
  return { name: "devices", section, show: () => void reload() };
}
