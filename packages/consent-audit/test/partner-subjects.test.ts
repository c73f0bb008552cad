import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { sql } from "drizzle-orm";
import {
  confirmSubjectSites,
  createSubjectRegistry,
  findSubject,
  InvalidInputError,
  rememberSubject,
} from "../src/index";
import { createTestDatabase } from "../src/testing";
import { newUserId } from "./fixtures";

setDefaultTimeout(30_000);

const handle = await createTestDatabase();
afterAll(() => handle.close());

/** A subject-shaped pseudonym (43 base64url chars) no other test uses. */
function newSubject(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

describe("partner subjects", () => {
  test("a remembered subject is found for its partner only", async () => {
    const userId = newUserId();
    const subject = newSubject();
    await rememberSubject(handle.db, {
      partner: "intercom",
      subject,
      userId,
      sites: ["site-b", "site-a", "site-a"],
    });
    const found = await findSubject(handle.db, "intercom", subject);
    expect(found).toMatchObject({
      partner: "intercom",
      subject,
      userId,
      sites: ["site-a", "site-b"],
    });
    expect(new Date(found?.updatedAt ?? "").toISOString()).toBe(found?.updatedAt ?? "");
    expect(await findSubject(handle.db, "barrier", subject)).toBeNull();
    expect(await findSubject(handle.db, "intercom", newSubject())).toBeNull();
  });

  test("remembering again replaces the sites and moves updatedAt forward", async () => {
    const userId = newUserId();
    const subject = newSubject();
    await rememberSubject(handle.db, { partner: "barrier", subject, userId, sites: ["site-a"] });
    const first = await findSubject(handle.db, "barrier", subject);
    await rememberSubject(handle.db, { partner: "barrier", subject, userId, sites: ["site-c"] });
    const second = await findSubject(handle.db, "barrier", subject);
    expect(second?.sites).toEqual(["site-c"]);
    expect(Date.parse(second?.updatedAt ?? "")).toBeGreaterThanOrEqual(
      Date.parse(first?.updatedAt ?? ""),
    );
  });

  test("malformed input is refused before anything is written", async () => {
    const userId = newUserId();
    await expect(
      rememberSubject(handle.db, { partner: "intercom", subject: userId, userId, sites: [] }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      rememberSubject(handle.db, {
        // @ts-expect-error an unknown partner is a type error and a runtime refusal
        partner: "elevator",
        subject: newSubject(),
        userId,
        sites: [],
      }),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });
});

describe("confirming a resident's sites", () => {
  const backdate = (userId: string) =>
    handle.db.execute(
      sql`update partner_subjects set updated_at = now() - interval '2 hours' where user_id = ${userId}`,
    );
  const age = async (partner: "intercom" | "barrier", subject: string) =>
    Date.now() - Date.parse((await findSubject(handle.db, partner, subject))?.updatedAt ?? "");

  test("replaces the sites and moves updatedAt forward at every partner, for that resident only", async () => {
    const userId = newUserId();
    const bystander = newUserId();
    const [atIntercom, atBarrier, theirs] = [newSubject(), newSubject(), newSubject()];
    const sites = ["site-a", "site-b"];
    await rememberSubject(handle.db, { partner: "intercom", subject: atIntercom, userId, sites });
    await rememberSubject(handle.db, { partner: "barrier", subject: atBarrier, userId, sites });
    await rememberSubject(handle.db, {
      partner: "intercom",
      subject: theirs,
      userId: bystander,
      sites,
    });
    await backdate(userId);
    await backdate(bystander);

    const touched = await confirmSubjectSites(handle.db, { userId, sites: ["site-a", "site-a"] });
    expect(touched.map((row) => row.partner).sort()).toEqual(["barrier", "intercom"]);
    for (const [partner, subject] of [
      ["intercom", atIntercom],
      ["barrier", atBarrier],
    ] as const) {
      expect((await findSubject(handle.db, partner, subject))?.sites).toEqual(["site-a"]);
      expect(await age(partner, subject)).toBeLessThan(60_000);
    }
    expect((await findSubject(handle.db, "intercom", theirs))?.sites).toEqual(sites);
    expect(await age("intercom", theirs)).toBeGreaterThan(3_600_000);
    expect(await confirmSubjectSites(handle.db, { userId: newUserId(), sites })).toEqual([]);
  });

  test("the registry writes once per resident and sites, and a partner call right after is free", async () => {
    const userId = newUserId();
    const subject = newSubject();
    const registry = createSubjectRegistry(handle.db, () => subject);
    await registry.subjectOf("intercom", { userId, sites: ["site-a"] });
    await backdate(userId);
    await registry.confirmSites({ userId, sites: ["site-a", "site-b"] });
    expect(await age("intercom", subject)).toBeLessThan(60_000);

    // Same resident, same sites, moments later: no write (the row keeps its backdated time).
    await backdate(userId);
    await registry.confirmSites({ userId, sites: ["site-b", "site-a"] });
    await registry.subjectOf("intercom", { userId, sites: ["site-a", "site-b"] });
    expect(await age("intercom", subject)).toBeGreaterThan(3_600_000);

    // Other sites are news: written at once.
    await registry.confirmSites({ userId, sites: ["site-a"] });
    expect(await findSubject(handle.db, "intercom", subject)).toMatchObject({ sites: ["site-a"] });
    expect(await age("intercom", subject)).toBeLessThan(60_000);
  });
});
