import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { listAuditEvents } from "@propgate/consent-audit";
import { type Resident, startTestStack } from "../src/testing/harness.ts";
import { createOfferMaker } from "./fixtures/webrtc-offer.ts";

// Live video stops with the consent (issue 11): revoking `video`, a camera leaving the
// resident's sites and the end of a session's lifetime end the session at the partner, through
// the durable end queue. The sim speaks the standard WHEP dialect here (`Location` at a path of
// its own, no lifetime header), so the lifetime is Propgate's VIDEO_SESSION_MAX_SECONDS.
const MAX_SECONDS = 8;
const stack = await startTestStack({
  env: {
    VIDEO_SESSION_MAX_SECONDS: String(MAX_SECONDS),
    VIDEO_END_RETRY_MAX_SECONDS: "1",
  },
});
afterAll(() => stack.close());
const sim = stack.sims.intercom;
beforeEach(() => {
  sim.faults.reset();
  sim.faults.set({ dialect: "standard" });
  sim.recorder.clear();
});

const offers = createOfferMaker();
afterAll(() => offers.close());

async function viewer(userId: string, sites = ["site-a"]): Promise<Resident> {
  const resident = await stack.resident(userId, sites);
  await resident.trpc.consent.grant.mutate({ purpose: "video", noticeVersion: 1 });
  return resident;
}

/** Opens a session and names the sim's side of it (the one that was not there before). */
async function openSession(resident: Resident) {
  const before = new Set(sim.video.sessions().map((s) => s.sessionId));
  const session = await resident.trpc.video.createSession.mutate({
    cameraId: "cam-a1",
    offerSdp: await offers.makeOffer(),
  });
  const partnerSide = sim.video.sessions().find((s) => !before.has(s.sessionId));
  if (!partnerSide) throw new Error("the partner holds no new session");
  return { session, partnerSessionId: partnerSide.sessionId };
}

async function adminClient() {
  return stack.client(await stack.issuer.mint({ sub: "admin-video", sites: [], admin: true }));
}

/** The admin's view of the resident's newest session once `done` says so (polled, 5 s at most). */
async function adminRowWhen(
  userId: string,
  done: (row: { state: string; endAttempts: number }) => boolean,
) {
  const admin = await adminClient();
  for (const deadline = Date.now() + 5000; ; ) {
    const [row] = await admin.admin.videoSessions.list.query({ userId });
    if (row && done(row)) return row;
    if (Date.now() > deadline)
      throw new Error(`no session of ${userId} as expected: ${JSON.stringify(row)}`);
    await Bun.sleep(50);
  }
}

const deletes = () =>
  sim.recorder.all().filter((r) => r.operation === "video.delete" && r.method === "DELETE");

describe("a standard WHEP partner", () => {
  test("create: Location at the partner's own path is the session; no lifetime header means VIDEO_SESSION_MAX_SECONDS; end: DELETE on that Location", async () => {
    const resident = await viewer("user-whep-std");
    const started = Date.now();
    const { session, partnerSessionId } = await openSession(resident);
    expect(session.answerSdp).toStartWith("v=0");
    expect(session.iceServers[0]?.urls[0]).toStartWith("turn:");
    const lifetime = Date.parse(session.expiresAt) - started;
    expect(lifetime).toBeGreaterThan((MAX_SECONDS - 2) * 1000);
    expect(lifetime).toBeLessThanOrEqual(MAX_SECONDS * 1000 + 1000);
    expect(await resident.trpc.video.listSessions.query()).toEqual([
      { sessionId: session.sessionId, cameraId: "cam-a1", expiresAt: session.expiresAt },
    ]);

    expect(await resident.trpc.video.endSession.mutate({ sessionId: session.sessionId })).toEqual({
      ended: true,
    });
    expect(deletes().map((r) => r.path)).toEqual([`/streams/cam-a1/whep/${partnerSessionId}`]);
    const closed = sim.video.sessions().find((s) => s.sessionId === partnerSessionId);
    expect(closed).toMatchObject({ state: "closed", closedReason: "deleted" });
    expect(await resident.trpc.video.listSessions.query()).toEqual([]);
    await stack.deps.auditWriter.flush(); // the answer's row is queued, not awaited
    const ends = await listAuditEvents(stack.database.db, {
      userId: "user-whep-std",
      operation: "video.end_session",
    });
    expect(ends.map((row) => row.kind).sort()).toEqual(["partner.request", "partner.response"]);
  });
});

describe("video stops with consent", () => {
  test("revoking video ends every live session at the partner within 5 s; listSessions is empty at once", async () => {
    const resident = await viewer("user-vid-revoke");
    const first = await openSession(resident);
    const second = await openSession(resident);
    await resident.trpc.consent.revoke.mutate({ purpose: "video" });
    expect(await resident.trpc.video.listSessions.query()).toEqual([]);
    for (const { partnerSessionId } of [first, second]) {
      const ended = await sim.video.waitForSessionState(partnerSessionId, "closed", 5000);
      expect(ended.closedReason).toBe("deleted");
    }
    // The partner closes a session when it gets the DELETE; our row is marked just after.
    const admin = await adminClient();
    let rows = await admin.admin.videoSessions.list.query({ userId: "user-vid-revoke" });
    for (const deadline = Date.now() + 5000; rows.some((row) => row.state !== "ended"); ) {
      if (Date.now() > deadline) break;
      await Bun.sleep(50);
      rows = await admin.admin.videoSessions.list.query({ userId: "user-vid-revoke" });
    }
    expect(rows.map((row) => [row.state, row.endReason])).toEqual([
      ["ended", "consent_revoked"],
      ["ended", "consent_revoked"],
    ]);
    // Each end is audited like any partner call, by the queue's worker.
    const ends = await listAuditEvents(stack.database.db, {
      userId: "user-vid-revoke",
      operation: "video.end_session",
    });
    expect(ends.filter((row) => row.kind === "partner.request")).toHaveLength(2);
  });

  test("an admin's revocation ends them too", async () => {
    const resident = await viewer("user-vid-admin-revoke");
    const { partnerSessionId } = await openSession(resident);
    const admin = await adminClient();
    await admin.admin.consents.revoke.mutate({
      userId: "user-vid-admin-revoke",
      purpose: "video",
      reason: "resident asked by phone",
    });
    expect(await resident.trpc.video.listSessions.query()).toEqual([]);
    const ended = await sim.video.waitForSessionState(partnerSessionId, "closed", 5000);
    expect(ended.closedReason).toBe("deleted");
  });

  test("the partner is down at the revoke: the end is retried, visible to admins, and done within 5 s of the partner coming back", async () => {
    const resident = await viewer("user-vid-down");
    const { partnerSessionId } = await openSession(resident);
    sim.faults.set({ errorRate: 1, errorStatus: 503 });
    await resident.trpc.consent.revoke.mutate({ purpose: "video" });
    expect(await resident.trpc.video.listSessions.query()).toEqual([]);
    const row = await adminRowWhen("user-vid-down", (session) => session.endAttempts >= 2);
    expect(row).toMatchObject({ state: "ending", endReason: "consent_revoked" });
    expect(row.endLastError).toBe("partner_unavailable");
    expect(sim.video.sessions().find((s) => s.sessionId === partnerSessionId)?.state).not.toBe(
      "closed",
    );

    sim.faults.set({ errorRate: 0 });
    const ended = await sim.video.waitForSessionState(partnerSessionId, "closed", 5000);
    expect(ended.closedReason).toBe("deleted");
    const done = await adminRowWhen("user-vid-down", (session) => session.state === "ended");
    expect(done).toMatchObject({ state: "ended", endReason: "consent_revoked" });
  });

  test("a camera no longer on the resident's sites: its session is ended", async () => {
    const resident = await viewer("user-vid-moved");
    const { partnerSessionId } = await openSession(resident);
    // The resident's token no longer names site-a.
    const moved = await stack.resident("user-vid-moved", ["site-b"]);
    expect(await moved.trpc.video.listSessions.query()).toEqual([]);
    const ended = await sim.video.waitForSessionState(partnerSessionId, "closed", 5000);
    expect(ended.closedReason).toBe("deleted");
    const row = await adminRowWhen("user-vid-moved", (session) => session.state === "ended");
    expect(row).toMatchObject({ state: "ended", endReason: "camera_removed" });
  });

  test("a camera moved to another site in the registry: its sessions are ended", async () => {
    const resident = await viewer("user-vid-registry");
    const { partnerSessionId } = await openSession(resident);
    const admin = await adminClient();
    const camera = (await admin.admin.devices.list.query()).find((d) => d.id === "cam-a1");
    if (!camera) throw new Error("no cam-a1 in the registry");
    const { createdAt: _created, updatedAt: _updated, ...record } = camera;
    await admin.admin.devices.upsert.mutate({
      devices: [{ ...record, siteId: "site-b" }],
      reason: "camera moved to building B",
    });
    try {
      const ended = await sim.video.waitForSessionState(partnerSessionId, "closed", 5000);
      expect(ended.closedReason).toBe("deleted");
      const row = await adminRowWhen("user-vid-registry", (session) => session.state === "ended");
      expect(row).toMatchObject({ endReason: "camera_removed" });
    } finally {
      await admin.admin.devices.upsert.mutate({
        devices: [{ ...record, siteId: "site-a" }],
        reason: "camera back in building A",
      });
    }
  });

  test("a session past its lifetime is ended by Propgate", async () => {
    const resident = await viewer("user-vid-expiry");
    const { session, partnerSessionId } = await openSession(resident);
    const wait = Date.parse(session.expiresAt) - Date.now() + 5000;
    const ended = await sim.video.waitForSessionState(partnerSessionId, "closed", wait);
    expect(ended.closedReason).toBe("deleted");
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(session.expiresAt));
    expect(await resident.trpc.video.listSessions.query()).toEqual([]);
    const row = await adminRowWhen("user-vid-expiry", (session) => session.state === "ended");
    expect(row).toMatchObject({ state: "ended", endReason: "expired" });
  });
});
