import type { DeviceRecord, UnitRecord } from "@propgate/consent-audit";

/** The simulator's devices, registered by the embedded default. */
export const SEED_DEVICES: DeviceRecord[] = [
  {
    id: "door-a1",
    kind: "door",
    siteId: "site-a",
    partner: "intercom",
    partnerDeviceId: "ic-a1",
    name: "Building A, entrance 1",
  },
  {
    id: "door-a2",
    kind: "door",
    siteId: "site-a",
    partner: "intercom",
    partnerDeviceId: "ic-a2",
    name: "Building A, entrance 2",
  },
  {
    id: "gate-a",
    kind: "gate",
    siteId: "site-a",
    partner: "barrier",
    partnerDeviceId: "bar-a",
    name: "Site A, car park gate",
  },
  {
    id: "door-b1",
    kind: "door",
    siteId: "site-b",
    partner: "intercom",
    partnerDeviceId: "ic-b1",
    name: "Building B, entrance 1",
  },
  {
    id: "gate-b",
    kind: "gate",
    siteId: "site-b",
    partner: "barrier",
    partnerDeviceId: "bar-b",
    name: "Site B, car park gate",
  },
  {
    id: "cam-a1",
    kind: "camera",
    siteId: "site-a",
    partner: "intercom",
    partnerDeviceId: "cam-a1",
    name: "Building A, entrance camera",
  },
  {
    id: "cam-b1",
    kind: "camera",
    siteId: "site-b",
    partner: "intercom",
    partnerDeviceId: "cam-b1",
    name: "Building B, entrance camera",
  },
];

export const SIM_INTERCOMS = SEED_DEVICES.filter((d) => d.kind === "door").map(
  (d) => d.partnerDeviceId,
);
export const SIM_CAMERAS = SEED_DEVICES.filter((d) => d.kind === "camera").map(
  (d) => d.partnerDeviceId,
);
export const SIM_BARRIERS = SEED_DEVICES.filter((d) => d.partner === "barrier").map(
  (d) => d.partnerDeviceId,
);

/** Flat 42 of building A, as the intercom partner names it: the dev resident's (`units` claim). */
export const SEED_UNITS: UnitRecord[] = [
  { id: "unit-a-42", partner: "intercom", partnerUnitId: "42", siteId: "site-a" },
];
