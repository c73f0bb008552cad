import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  countAuditEvents,
  type DeviceRecord,
  getDevice,
  getDeviceByPartnerId,
  InvalidInputError,
  listAllDevices,
  listAuditEvents,
  listDevicesForSites,
  upsertDevices,
  verifyAuditChain,
} from "../src/index";
import { createTestDatabase } from "../src/testing";
import { ADMIN_AUDIT } from "./fixtures";

setDefaultTimeout(30_000);

const handle = await createTestDatabase();
afterAll(() => handle.close());

const door: DeviceRecord = {
  id: "dev_door_1",
  kind: "door",
  siteId: "site_a",
  partner: "intercom",
  partnerDeviceId: "IC-100.1",
  name: "Подъезд 1",
};
const gate: DeviceRecord = {
  id: "dev_gate_1",
  kind: "gate",
  siteId: "site_b",
  partner: "barrier",
  partnerDeviceId: "BR_7",
  name: "Main gate",
};
const camera: DeviceRecord = {
  id: "dev_cam_1",
  kind: "camera",
  siteId: "site_a",
  partner: "intercom",
  partnerDeviceId: "CAM-1",
  name: "Entrance camera",
};

async function expectInvalid(records: readonly DeviceRecord[], issue: RegExp) {
  const before = await countAuditEvents(handle.db);
  const devicesBefore = await listAllDevices(handle.db);
  const error = await upsertDevices(handle.db, records, ADMIN_AUDIT).catch((err: unknown) => err);
  expect(error).toBeInstanceOf(InvalidInputError);
  expect((error as InvalidInputError).code).toBe("INVALID_INPUT");
  expect((error as InvalidInputError).issues.join("\n")).toMatch(issue);
  expect(await countAuditEvents(handle.db)).toBe(before);
  expect(await listAllDevices(handle.db)).toEqual(devicesBefore);
}

describe("upsertDevices", () => {
  test("inserts devices with one admin.devices.upsert audit row each", async () => {
    const saved = await upsertDevices(handle.db, [door, gate, camera], ADMIN_AUDIT);
    expect(saved.map((d) => d.id)).toEqual(["dev_door_1", "dev_gate_1", "dev_cam_1"]);
    expect(await getDevice(handle.db, "dev_door_1")).toMatchObject(door);
    const audit = await listAuditEvents(handle.db, { kind: "admin.devices.upsert" });
    expect(audit.map((e) => e.target).sort()).toEqual(["dev_cam_1", "dev_door_1", "dev_gate_1"]);
    for (const event of audit) {
      expect(event).toMatchObject({ actor: "adm_1", sourceApp: "admin", result: "ok" });
    }
  });

  test("updates by id and keeps created_at", async () => {
    const [before] = await upsertDevices(handle.db, [door], ADMIN_AUDIT);
    const [after] = await upsertDevices(
      handle.db,
      [{ ...door, name: "Door 1, renamed" }],
      ADMIN_AUDIT,
    );
    expect(after?.name).toBe("Door 1, renamed");
    expect(after?.createdAt).toBe(before?.createdAt ?? "");
    expect((await getDevice(handle.db, "dev_door_1"))?.name).toBe("Door 1, renamed");
  });

  test("lists devices of the given sites only", async () => {
    const siteA = await listDevicesForSites(handle.db, ["site_a"]);
    expect(siteA.map((d) => d.id).sort()).toEqual(["dev_cam_1", "dev_door_1"]);
    expect(await listDevicesForSites(handle.db, [])).toEqual([]);
    expect(await listDevicesForSites(handle.db, ["site_unknown"])).toEqual([]);
    expect((await listAllDevices(handle.db)).length).toBe(3);
    expect(await getDevice(handle.db, "dev_nope")).toBeNull();
  });

  test("finds a device by its partner's own id, within that partner only", async () => {
    expect((await getDeviceByPartnerId(handle.db, "intercom", "IC-100.1"))?.id).toBe("dev_door_1");
    expect((await getDeviceByPartnerId(handle.db, "barrier", "BR_7"))?.id).toBe("dev_gate_1");
    expect(await getDeviceByPartnerId(handle.db, "barrier", "IC-100.1")).toBeNull();
    expect(await getDeviceByPartnerId(handle.db, "intercom", "ic-100.1")).toBeNull();
  });

  test("rejects a bad kind and writes nothing", async () => {
    const bad = { ...gate, id: "dev_new_1", kind: "window" } as unknown as DeviceRecord;
    await expectInvalid([door, bad], /1\.kind/);
  });

  test("rejects an unknown field and writes nothing", async () => {
    const extra = { ...camera, id: "dev_new_2", partnerDeviceId: "CAM-2", secret: "x" };
    await expectInvalid([extra], /secret/);
  });

  test("rejects bad ids, partner device ids and names", async () => {
    await expectInvalid([{ ...door, id: "Dev Door" }], /0\.id/);
    await expectInvalid(
      [{ ...door, id: "dev_x", partnerDeviceId: "../etc/passwd" }],
      /partnerDeviceId/,
    );
    await expectInvalid([{ ...door, id: "dev_x", partnerDeviceId: "a/b" }], /partnerDeviceId/);
    await expectInvalid([{ ...door, id: "dev_x", name: "" }], /name/);
    await expectInvalid([{ ...door, id: "dev_x", name: "x".repeat(101) }], /name/);
  });

  test("rejects a site no resident's token can name (the token's site format)", async () => {
    await expectInvalid([{ ...door, id: "dev_x", siteId: "estate:block-1" }], /siteId/);
    await expectInvalid([{ ...door, id: "dev_x", siteId: "s".repeat(65) }], /siteId/);
  });

  test("rejects duplicates in a batch and a partner device mapped to another id", async () => {
    await expectInvalid([door, { ...door, name: "again" }], /duplicate device id/);
    await expectInvalid([{ ...door, id: "dev_door_2" }], /already mapped/);
  });

  test("the chain still verifies after all of it", async () => {
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true });
  });
});
