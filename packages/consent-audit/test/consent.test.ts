import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { eq } from "drizzle-orm";
import {
  countAuditEvents,
  grantConsent,
  InvalidInputError,
  isConsentGranted,
  listAuditEvents,
  listConsents,
  PURPOSES,
  revokeConsent,
  StaleNoticeError,
  verifyAuditChain,
} from "../src/index";
import { consentEvents } from "../src/schema/index";
import { createTestDatabase } from "../src/testing";
import { ADMIN_AUDIT, APP_AUDIT, grant, newUserId } from "./fixtures";

setDefaultTimeout(30_000);

const handle = await createTestDatabase();
afterAll(() => handle.close());

async function consentEventsOf(userId: string) {
  return handle.db.select().from(consentEvents).where(eq(consentEvents.userId, userId));
}

describe("listConsents", () => {
  test("shows every purpose as 'none' for a new user", async () => {
    const consents = await listConsents(handle.db, newUserId());
    expect(consents.map((c) => c.purpose)).toEqual([...PURPOSES]);
    for (const consent of consents) {
      expect(consent).toEqual({
        purpose: consent.purpose,
        state: "none",
        currentNoticeVersion: 1,
        grantedNoticeVersion: null,
        updatedAt: null,
      });
    }
  });
});

describe("grantConsent", () => {
  test("with the current notice writes history, state and an audit row", async () => {
    const userId = newUserId();
    const state = await grant(handle.db, userId, "faces");
    expect(state).toMatchObject({ purpose: "faces", state: "granted", grantedNoticeVersion: 1 });
    const consents = await listConsents(handle.db, userId);
    expect(consents.find((c) => c.purpose === "faces")).toEqual(state);
    expect(consents.filter((c) => c.state === "none")).toHaveLength(PURPOSES.length - 1);

    const [event] = await consentEventsOf(userId);
    expect(event).toMatchObject({
      action: "grant",
      purpose: "faces",
      noticeVersion: 1,
      channel: "app",
      method: "in_app_checkbox",
      actor: userId,
    });
    expect(event?.id).toMatch(/^cns_[0-9a-z]{20}$/);

    const [audit] = await listAuditEvents(handle.db, { userId });
    expect(audit).toMatchObject({ kind: "consent.grant", purpose: "faces", result: "ok" });
    expect(audit?.id).toMatch(/^evt_[0-9a-z]{20}$/);
  });

  test("with a stale notice throws StaleNoticeError and writes nothing", async () => {
    const userId = newUserId();
    const auditBefore = await countAuditEvents(handle.db);
    const error = await grantConsent(
      handle.db,
      { userId, purpose: "plates", noticeVersion: 2, channel: "web", method: "in_app_checkbox" },
      APP_AUDIT,
    ).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(StaleNoticeError);
    expect((error as StaleNoticeError).code).toBe("INVALID_INPUT");
    expect((error as StaleNoticeError).currentNoticeVersion).toBe(1);
    expect(await consentEventsOf(userId)).toEqual([]);
    expect(await countAuditEvents(handle.db)).toBe(auditBefore);
    expect((await listConsents(handle.db, userId)).every((c) => c.state === "none")).toBe(true);
  });

  test("rejects an unknown purpose or channel as invalid input", async () => {
    const input = { userId: newUserId(), noticeVersion: 1, method: "in_app_checkbox" };
    await expect(
      grantConsent(
        handle.db,
        { ...input, purpose: "location", channel: "app" } as unknown as Parameters<
          typeof grantConsent
        >[1],
        APP_AUDIT,
      ),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      grantConsent(
        handle.db,
        { ...input, purpose: "video", channel: "sms" } as unknown as Parameters<
          typeof grantConsent
        >[1],
        APP_AUDIT,
      ),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });

  test("granting again what is granted changes nothing", async () => {
    const userId = newUserId();
    const first = await grant(handle.db, userId, "video");
    const second = await grant(handle.db, userId, "video");
    expect(second).toEqual(first);
    expect(await consentEventsOf(userId)).toHaveLength(1);
  });
});

describe("revokeConsent", () => {
  test("revokes a grant with history, state and an audit row naming the actor", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "barrier");
    const state = await revokeConsent(
      handle.db,
      {
        userId,
        purpose: "barrier",
        channel: "admin",
        method: "admin_action",
        actor: "adm_1",
        reason: "resident request by phone",
      },
      ADMIN_AUDIT,
    );
    expect(state).toMatchObject({
      purpose: "barrier",
      state: "revoked",
      grantedNoticeVersion: null,
    });
    expect(
      (await listConsents(handle.db, userId)).find((c) => c.purpose === "barrier")?.state,
    ).toBe("revoked");
    const events = await consentEventsOf(userId);
    expect(events.map((e) => e.action).sort()).toEqual(["grant", "revoke"]);
    expect(events.find((e) => e.action === "revoke")).toMatchObject({
      actor: "adm_1",
      channel: "admin",
      noticeVersion: null,
      reason: "resident request by phone",
    });
    const [audit] = await listAuditEvents(handle.db, { userId, kind: "consent.revoke" });
    expect(audit).toMatchObject({ actor: "adm_1", purpose: "barrier", sourceApp: "admin" });
  });

  test("revoking what is not granted is a no-op that returns the state", async () => {
    const userId = newUserId();
    const auditBefore = await countAuditEvents(handle.db);
    const input = {
      userId,
      purpose: "intercom",
      channel: "app",
      method: "in_app_toggle",
      actor: userId,
    } as const;
    expect(await revokeConsent(handle.db, input, APP_AUDIT)).toMatchObject({ state: "none" });
    await grant(handle.db, userId, "intercom");
    await revokeConsent(handle.db, input, APP_AUDIT);
    expect(await revokeConsent(handle.db, input, APP_AUDIT)).toMatchObject({ state: "revoked" });
    expect(await consentEventsOf(userId)).toHaveLength(2);
    expect(await countAuditEvents(handle.db)).toBe(auditBefore + 2);
  });

  test("a grant after a revoke is granted again", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "plates");
    await revokeConsent(
      handle.db,
      { userId, purpose: "plates", channel: "app", method: "in_app_toggle", actor: userId },
      APP_AUDIT,
    );
    expect(await grant(handle.db, userId, "plates")).toMatchObject({ state: "granted" });
  });

  test("the chain verifies after all of it", async () => {
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true });
  });
});

describe("isConsentGranted", () => {
  test("true only while granted, for that purpose", async () => {
    const userId = newUserId();
    expect(await isConsentGranted(handle.db, userId, "intercom")).toBe(false);
    await grant(handle.db, userId, "intercom");
    expect(await isConsentGranted(handle.db, userId, "intercom")).toBe(true);
    expect(await isConsentGranted(handle.db, userId, "barrier")).toBe(false);
    await revokeConsent(
      handle.db,
      { userId, purpose: "intercom", channel: "app", method: "in_app_toggle", actor: userId },
      APP_AUDIT,
    );
    expect(await isConsentGranted(handle.db, userId, "intercom")).toBe(false);
  });
});
