import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { findSubject, InvalidInputError, rememberSubject } from "../src/index";
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
