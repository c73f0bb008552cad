import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { listAuditEvents, verifyAuditChain } from "@propgate/consent-audit";
import { ageSubjectSites } from "@propgate/consent-audit/testing";
import { CLIENTS, PEER, type SurfaceRig, startSurfaceRig } from "./partner-surface-rig.ts";

/** `POST /partner/v1/access-checks`: may this subject pass this device by this method? */

let rig: SurfaceRig;
/** The intercom's and the barrier's tokens. */
let intercom: string;
let barrier: string;
beforeAll(async () => {
  rig = await startSurfaceRig();
  intercom = await rig.tokenFor(CLIENTS.intercom);
  barrier = await rig.tokenFor(CLIENTS.barrier);
});
afterAll(() => rig?.close());

interface Check {
  subject: string;
  deviceId: string;
  method: string;
}
const allow = { decision: "allow" } as const;
const deny = (reason: string) => ({ decision: "deny", reason }) as const;
type Decision = typeof allow | ReturnType<typeof deny>;

const check = (token: string, body: Check) =>
  rig.postJson("/partner/v1/access-checks", token, body);
/** Checks of `subject` at a device, by a method (`key` unless told). */
const about =
  (subject: string) =>
  (deviceId: string, method = "key"): Check => ({ subject, deviceId, method });

/** Each check answered 200 with its decision, in order. */
async function expectDecisions(token: string, cases: Array<[Check, Decision]>) {
  for (const [body, expected] of cases) {
    const answer = await check(token, body);
    expect({ body, status: answer.status, json: answer.json }).toEqual({
      body,
      status: 200,
      json: expected,
    });
  }
}

describe("POST /partner/v1/access-checks", () => {
  test("the allow/deny matrix: device, site, kind, method, consent, unknowns", async () => {
    const userId = await rig.resident(["site-a"], ["intercom", "barrier"]);
    const atIntercom = about(rig.subjectAt("intercom", userId));
    const atBarrier = about(rig.subjectAt("barrier", userId));
    const neverSeen = about(rig.subjectAt("intercom", "someone-never-seen"));

    await expectDecisions(intercom, [
      [atIntercom("ic-a1"), allow],
      [atIntercom("ic-a2"), allow],
      [atIntercom("ic-b1"), deny("site_not_allowed")],
      [atIntercom("cam-a1"), deny("not_a_passage")],
      [atIntercom("ic-zz"), deny("unknown_device")],
      // The barrier's device is not the intercom's to ask about, and subjects differ per partner.
      [atIntercom("bar-a"), deny("unknown_device")],
      [atBarrier("ic-a1"), deny("unknown_subject")],
      [neverSeen("ic-a1"), deny("unknown_subject")],
      // Faces need the faces consent too; plates are not an intercom method.
      [atIntercom("ic-a1", "face"), deny("consent_required")],
    ]);
    await rig.grant(userId, ["faces"]);
    await expectDecisions(intercom, [
      [atIntercom("ic-a1", "face"), allow],
      [atIntercom("ic-a1", "plate"), deny("method_not_supported")],
    ]);

    await expectDecisions(barrier, [
      [atBarrier("bar-a"), allow],
      [atBarrier("bar-a", "plate"), deny("consent_required")],
    ]);
    await rig.grant(userId, ["plates"]);
    await expectDecisions(barrier, [
      [atBarrier("bar-a", "plate"), allow],
      [atBarrier("bar-a", "face"), deny("method_not_supported")],
      [atBarrier("bar-b"), deny("site_not_allowed")],
    ]);

    // Revoking the purpose turns the next answer into a deny at once.
    await rig.revoke(userId, "intercom");
    await expectDecisions(intercom, [[atIntercom("ic-a1"), deny("consent_required")]]);
    await expectDecisions(barrier, [[atBarrier("bar-a"), allow]]);
  });

  test("sites last confirmed longer ago than ACCESS_CHECK_SITES_MAX_AGE_SECONDS: stale_subject", async () => {
    const seen = async (minutesAgo: number) => {
      const userId = await rig.resident(["site-a"], ["intercom"]);
      // As if the resident's latest call had been this long ago (the default age is an hour).
      await ageSubjectSites(rig.database.db, userId, minutesAgo);
      return check(intercom, about(rig.subjectAt("intercom", userId))("ic-a1"));
    };
    expect((await seen(59)).json).toEqual(allow);
    const stale = await seen(61);
    expect(stale.json).toEqual(deny("stale_subject"));
    expect(await rig.auditRowFor(stale)).toMatchObject({
      kind: "partner.access_check",
      target: "door-a1",
      result: "deny",
      errorCode: "STALE_SUBJECT",
    });
  });

  test("every check is audited and counted, with the opaque user id and never the subject", async () => {
    const userId = await rig.resident(["site-a"], ["intercom"]);
    const subject = rig.subjectAt("intercom", userId);
    const at = about(subject);
    const count = (decision: string) =>
      rig.metric("propgate_access_checks_total", { partner: "intercom", decision });
    const [allowedBefore, deniedBefore] = [await count("allow"), await count("deny")];

    const allowed = await check(intercom, at("ic-a1"));
    const denied = await check(intercom, at("ic-b1"));
    const unknown = await check(intercom, at("ic-nope"));

    expect(await rig.auditRowFor(allowed)).toMatchObject({
      kind: "partner.access_check",
      operation: "access_check.key",
      partner: "intercom",
      target: "door-a1",
      userId,
      purpose: "intercom",
      result: "allow",
      errorCode: null,
      actor: `partner:${CLIENTS.intercom.clientId}`,
      clientIp: PEER,
      sourceApp: "api",
    });
    expect(await rig.auditRowFor(denied)).toMatchObject({
      kind: "partner.access_check",
      target: "door-b1",
      userId,
      result: "deny",
      errorCode: "SITE_NOT_ALLOWED",
    });
    expect(await rig.auditRowFor(unknown)).toMatchObject({
      kind: "partner.access_check",
      target: "intercom/ic-nope",
      userId: null,
      result: "deny",
      errorCode: "UNKNOWN_DEVICE",
    });
    const rows = await listAuditEvents(rig.database.db, { limit: 500 });
    expect(JSON.stringify(rows)).not.toContain(subject);
    expect(await verifyAuditChain(rig.database.db)).toMatchObject({ ok: true });

    expect((await count("allow")) - allowedBefore).toBe(1);
    expect((await count("deny")) - deniedBefore).toBe(2);
  });

  test("bodies are strict: anything off is a 400 naming the problem, never a 500", async () => {
    const good = { subject: "a".repeat(43), deviceId: "ic-a1", method: "key" };
    const bad: unknown[] = [
      { ...good, extra: true },
      { subject: good.subject, deviceId: good.deviceId },
      { ...good, method: "retina" },
      { ...good, subject: "user-1" },
      { ...good, deviceId: "ic a1/../x" },
      [good],
      "null",
      "{not json",
      // Over the surface's 16 KiB body limit.
      JSON.stringify({ ...good, deviceId: "x".repeat(20_000) }),
    ];
    for (const body of bad) {
      const answer = await rig.postJson("/partner/v1/access-checks", intercom, body);
      expect({ body, status: answer.status }).toEqual({ body, status: 400 });
      expect(answer.json).toMatchObject({
        error: { code: "INVALID_INPUT", requestId: expect.stringMatching(/^req_/) },
      });
    }
    const wrongType = await rig.send("/partner/v1/access-checks", {
      headers: { authorization: `Bearer ${intercom}`, "content-type": "text/plain" },
      body: JSON.stringify(good),
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json).toMatchObject({
      error: { code: "INVALID_INPUT", message: "the body must be application/json" },
    });
    const unknownRoute = await rig.postJson("/partner/v1/doors/open", intercom, good);
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.json).toMatchObject({ error: { code: "NOT_FOUND" } });
  });
});
