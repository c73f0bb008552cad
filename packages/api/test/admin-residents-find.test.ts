import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { confirmUnits, grantConsent, recordAuditEvent, upsertUnits } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import type { Principal } from "../src/index.ts";
import { databaseApp } from "./fixtures/database-app.ts";

/**
 * `admin.residents.find` (by the beginning of an id, or those active lately) and
 * `admin.residents.get`'s `seen`: the admin app finds a resident without their whole opaque id
 * and tells an id Propgate never saw from a resident with nothing granted.
 */

setDefaultTimeout(60_000);

let database: TestDatabase;
const run = crypto.randomUUID().slice(0, 8);
const id = (name: string) => `find-${run}-${name}`;
const SOURCE = { sourceApp: "api", instanceId: "api-test" };

beforeAll(async () => {
  database = await createTestDatabase();
  for (const name of ["anna", "anton", "boris"])
    await grantConsent(
      database.db,
      {
        userId: id(name),
        purpose: "intercom",
        noticeVersion: 1,
        channel: "app",
        method: "in_app_checkbox",
      },
      SOURCE,
    );
  // A resident known only by their flat; one only by an audit row (a refused open).
  await upsertUnits(
    database.db,
    [{ id: `unit-${run}`, partner: "intercom", partnerUnitId: `42-${run}`, siteId: "site-a" }],
    { ...SOURCE, actor: "seed", reason: "test flats" },
  );
  await confirmUnits(database.db, id("antonina"), [`unit-${run}`]);
  await recordAuditEvent(database.db, {
    ...SOURCE,
    kind: "access.denied",
    result: "denied",
    errorCode: "CONSENT_REQUIRED",
    userId: id("denis"),
  });
});
afterAll(async () => {
  await database.close();
});

const person = (adminRole: Principal["adminRole"]): Principal => ({
  userId: `admin-${crypto.randomUUID()}`,
  sites: [],
  units: [],
  adminRole,
});
const viewer = () => databaseApp(database, { token: person("viewer") }).caller("token");

describe("admin.residents.find", () => {
  test("a prefix finds the residents whose id begins so, by consent or flat, in id order", async () => {
    const { residents } = await viewer().admin.residents.find({ prefix: id("an") });
    expect(residents.map((found) => found.userId)).toEqual([
      id("anna"),
      id("anton"),
      id("antonina"),
    ]);
    // When each was last seen: their consent's audit row; none for the flat-only resident.
    expect(residents[0]?.lastSeenAt).toEqual(expect.any(String));
    expect(residents[2]?.lastSeenAt).toBeNull();
  });

  test("`_` in a prefix is a character, not a wildcard", async () => {
    const { residents } = await viewer().admin.residents.find({ prefix: `find_${run}` });
    expect(residents).toEqual([]);
  });

  test("without a prefix: those active lately, newest first, bounded by the limit", async () => {
    const { residents } = await viewer().admin.residents.find({ limit: 2 });
    expect(residents).toHaveLength(2);
    expect(residents[0]?.userId).toBe(id("denis"));
  });

  test("bad input is INVALID_INPUT, nothing read", async () => {
    for (const input of [
      { prefix: "" },
      { prefix: "a b" },
      { limit: 51 },
      { prefix: "a", extra: 1 },
    ]) {
      await expect(viewer().admin.residents.find(input as never)).rejects.toMatchObject({
        code: "BAD_REQUEST",
      });
    }
  });

  test("only admins: a resident's token is FORBIDDEN", async () => {
    const resident = databaseApp(database, { token: person(null) }).caller("token");
    await expect(resident.admin.residents.find({})).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});

describe("admin.residents.get's seen", () => {
  test("true for a consent, a flat or an audit row; false for an id with no history at all", async () => {
    for (const name of ["anna", "antonina", "denis"])
      expect((await viewer().admin.residents.get({ userId: id(name) })).seen).toBe(true);
    const madeUp = await viewer().admin.residents.get({ userId: id("made-up") });
    expect(madeUp.seen).toBe(false);
    expect(madeUp.consents.every((consent) => consent.state === "none")).toBe(true);
  });
});
