import {
  afterAll,
  beforeAll,
  beforeEach,
  describe,
  expect,
  setDefaultTimeout,
  test,
} from "bun:test";
import { listAuditEvents } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { newId } from "@propgate/domain";
import type { Principal } from "../src/index.ts";
import { type KeysApp, keysApp } from "./fixtures/keys-app.ts";

setDefaultTimeout(60_000);

/**
 * `admin.keys.list` and `admin.keys.revoke` in process: what a viewer and an operator see of a
 * resident's guest keys (never a code), and an operator's revoke through the resident's own end
 * path, audited with the reason.
 */

const ANNA: Principal = { userId: "resident-anna", sites: ["site-a"], units: [], adminRole: null };
const VIEWER: Principal = { userId: "admin-vera", sites: [], units: [], adminRole: "viewer" };
const OPERATOR: Principal = { userId: "admin-otto", sites: [], units: [], adminRole: "operator" };

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.close());

let app: KeysApp;
beforeEach(async () => {
  await database.db.execute("delete from guest_keys");
  app = keysApp(database, { anna: ANNA, vera: VIEWER, otto: OPERATOR });
});

const inTwoHours = () => new Date(Date.now() + 2 * 3_600_000).toISOString();
async function annaCreates(label: string) {
  const created = await app.call("anna", "keys.create", {
    deviceIds: ["door-a1", "door-a2"],
    validUntil: inTwoHours(),
    label,
  });
  expect(created.status).toBe(200);
  return created.data as { keyId: string; code: string };
}
const adminList = (token: string) =>
  app.call(token, "admin.keys.list", { userId: ANNA.userId }, false);

describe("admin.keys", () => {
  test("list: a viewer sees the resident's keys in force — ids, doors, validity, label, state, no code", async () => {
    const courier = await annaCreates("Courier");
    const cleaner = await annaCreates("Cleaner");
    await app.call("anna", "keys.revoke", { keyId: cleaner.keyId });
    await database.db.execute(
      `update guest_keys set state = 'ended', ended_at = now() where id = '${cleaner.keyId}'`,
    );

    const listed = await adminList("vera");
    expect(listed.status).toBe(200);
    expect(listed.data).toEqual([
      expect.objectContaining({
        id: courier.keyId,
        userId: ANNA.userId,
        siteId: "site-a",
        deviceIds: ["door-a1", "door-a2"],
        label: "Courier",
        state: "active",
        endReason: null,
      }),
    ]);
    const shown = JSON.stringify(listed.data);
    expect(shown).not.toContain(courier.code);
    expect(shown).not.toContain("partnerKeyId");
    // Not for a resident without an admin role.
    expect((await adminList("anna")).cause?.code).toBe("FORBIDDEN");
  });

  test("revoke: operator only, with a reason; ends the key as the resident's revoke does, audited", async () => {
    const key = await annaCreates("Courier");
    const revoke = (token: string, input: Record<string, unknown>) =>
      app.call(token, "admin.keys.revoke", input);

    expect((await revoke("vera", { keyId: key.keyId, reason: "lost phone" })).cause?.code).toBe(
      "FORBIDDEN",
    );
    expect((await revoke("otto", { keyId: key.keyId })).cause?.code).toBe("INVALID_INPUT");
    expect((await revoke("otto", { keyId: key.keyId, reason: " " })).cause?.code).toBe(
      "INVALID_INPUT",
    );
    expect((await revoke("otto", { keyId: newId("key"), reason: "lost phone" })).cause?.code).toBe(
      "NOT_FOUND",
    );
    expect((await app.call("anna", "keys.list", undefined, false)).data).toHaveLength(1);

    const revoked = await revoke("otto", { keyId: key.keyId, reason: "resident's phone stolen" });
    expect(revoked.data).toMatchObject({ id: key.keyId, state: "ending", endReason: "admin" });
    // Gone from the resident's list at once; the admin still sees it being ended.
    expect((await app.call("anna", "keys.list", undefined, false)).data).toEqual([]);
    expect((await adminList("vera")).data).toEqual([
      expect.objectContaining({ id: key.keyId, state: "ending", endReason: "admin" }),
    ]);
    // Twice is no error: recorded as unchanged.
    expect((await revoke("otto", { keyId: key.keyId, reason: "again" })).status).toBe(200);

    const audited = await listAuditEvents(database.db, { kind: "admin.keys.revoke" });
    expect(
      audited.map((row) => ({
        result: row.result,
        actor: row.actor,
        reason: row.reason,
        userId: row.userId,
        target: row.target,
        operation: row.operation,
        purpose: row.purpose,
      })),
    ).toEqual(
      [
        {
          result: "ok",
          actor: OPERATOR.userId,
          reason: "resident's phone stolen",
          userId: ANNA.userId,
          target: key.keyId,
          operation: "keys.delete",
          purpose: "guests",
        },
        {
          result: "unchanged",
          actor: OPERATOR.userId,
          reason: "again",
          userId: ANNA.userId,
          target: key.keyId,
          operation: "keys.delete",
          purpose: "guests",
        },
      ].reverse(),
    );
    expect(JSON.stringify(audited)).not.toContain(key.code);
  });
});
