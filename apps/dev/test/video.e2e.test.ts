import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { listAuditEvents } from "@propgate/consent-audit";
import { MAX_SDP_BYTES } from "@propgate/partner-client";
import { errorOf, type Resident, startTestStack } from "../src/testing/harness.ts";
import { createOfferMaker } from "./fixtures/webrtc-offer.ts";

const stack = await startTestStack();
afterAll(() => stack.close());
beforeEach(() => {
  stack.sims.intercom.faults.reset();
  stack.sims.intercom.recorder.clear();
});

const offers = createOfferMaker();
const makeOffer = offers.makeOffer;
afterAll(() => offers.close());

async function viewer(userId: string, sites = ["site-a"]): Promise<Resident> {
  const resident = await stack.resident(userId, sites);
  await resident.trpc.consent.grant.mutate({ purpose: "video", noticeVersion: 1 });
  return resident;
}

const videoCreates = () => stack.sims.intercom.recorder.count({ operation: "video.create" });

describe("video.createSession", () => {
  test("returns the partner's answer, ICE servers and expiry; keeps only ids, camera, resident, expiry", async () => {
    const resident = await viewer("user-vid-ok");
    const session = await resident.trpc.video.createSession.mutate({
      cameraId: "cam-a1",
      offerSdp: await makeOffer(),
    });
    expect(session.sessionId).toMatch(/^vss_/);
    expect(session.answerSdp).toStartWith("v=0");
    expect(session.iceServers[0]?.urls[0]).toStartWith("turn:");
    expect(session.iceServers[0]?.credential).toBeString();
    expect(Date.parse(session.expiresAt)).toBeGreaterThan(Date.now());
    expect(await resident.trpc.video.listSessions.query()).toEqual([
      { sessionId: session.sessionId, cameraId: "cam-a1", expiresAt: session.expiresAt },
    ]);

    // The answer's row is queued, not awaited (group commit): let it land first.
    await stack.deps.auditWriter.flush();
    const audit = await listAuditEvents(stack.database.db, {
      userId: "user-vid-ok",
      operation: "video.create_session",
    });
    expect(audit.map((row) => row.kind).sort()).toEqual(["partner.request", "partner.response"]);
    expect(audit.find((row) => row.kind === "partner.response")).toMatchObject({
      result: "success",
      target: "cam-a1",
      httpStatus: 201,
    });

    expect(await resident.trpc.video.endSession.mutate({ sessionId: session.sessionId })).toEqual({
      ended: true,
    });
    expect(
      stack.sims.intercom.video
        .sessions()
        .find((s) => s.state === "closed" && s.closedReason === "deleted"),
    ).toBeDefined();
    expect(await resident.trpc.video.listSessions.query()).toEqual([]);
    await stack.deps.auditWriter.flush();
    const ends = await listAuditEvents(stack.database.db, {
      userId: "user-vid-ok",
      operation: "video.end_session",
    });
    expect(ends.map((row) => row.kind).sort()).toEqual(["partner.request", "partner.response"]);
    // ending twice is fine
    expect(await resident.trpc.video.endSession.mutate({ sessionId: session.sessionId })).toEqual({
      ended: true,
    });
  });

  test("malformed, huge and wrong-direction offers are rejected before reaching the partner", async () => {
    const resident = await viewer("user-vid-bad-offer");
    const good = await makeOffer();
    const cases = [
      "hello, not sdp",
      good.replace("a=recvonly", "a=sendrecv"),
      good.replace("a=recvonly", "a=sendonly"),
      good.replace(/a=fingerprint:[^\r\n]*\r?\n/g, ""),
      `${good}a=x-pad:${"x".repeat(MAX_SDP_BYTES)}\r\n`,
    ];
    for (const offerSdp of cases) {
      const error = await errorOf(
        resident.trpc.video.createSession.mutate({ cameraId: "cam-a1", offerSdp }),
      );
      expect(error).toMatchObject({ code: "BAD_REQUEST", cause: "INVALID_INPUT" });
    }
    expect(videoCreates()).toBe(0);
  });

  test("a partner answer that is not valid SDP never reaches the app", async () => {
    const resident = await viewer("user-vid-bad-answer");
    stack.sims.intercom.faults.set({ responseMode: "bad-sdp" });
    const error = await errorOf(
      resident.trpc.video.createSession.mutate({ cameraId: "cam-a1", offerSdp: await makeOffer() }),
    );
    expect(error).toMatchObject({ code: "BAD_GATEWAY", cause: "PARTNER_PROTOCOL_ERROR" });
    expect(JSON.stringify(error.data)).not.toContain("hello, not sdp");
    expect(videoCreates()).toBe(1);
    expect(await resident.trpc.video.listSessions.query()).toEqual([]);
  });

  test("a resident may hold 2 live sessions at once; ending one frees a slot", async () => {
    const resident = await viewer("user-vid-limit");
    const first = await resident.trpc.video.createSession.mutate({
      cameraId: "cam-a1",
      offerSdp: await makeOffer(),
    });
    await resident.trpc.video.createSession.mutate({
      cameraId: "cam-a1",
      offerSdp: await makeOffer(),
    });
    const third = await errorOf(
      resident.trpc.video.createSession.mutate({ cameraId: "cam-a1", offerSdp: await makeOffer() }),
    );
    expect(third).toMatchObject({ code: "TOO_MANY_REQUESTS", cause: "RATE_LIMITED" });
    expect(videoCreates()).toBe(2);
    await resident.trpc.video.endSession.mutate({ sessionId: first.sessionId });
    expect(
      (
        await resident.trpc.video.createSession.mutate({
          cameraId: "cam-a1",
          offerSdp: await makeOffer(),
        })
      ).sessionId,
    ).toMatch(/^vss_/);
  });

  test("concurrent creates cannot overshoot the limit", async () => {
    const resident = await viewer("user-vid-race");
    const offers = await Promise.all([makeOffer(), makeOffer(), makeOffer(), makeOffer()]);
    const results = await Promise.allSettled(
      offers.map((offerSdp) =>
        resident.trpc.video.createSession.mutate({ cameraId: "cam-a1", offerSdp }),
      ),
    );
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(2);
  });

  test("no consent → CONSENT_REQUIRED; a camera of another site → FORBIDDEN_DEVICE; nothing reaches the partner", async () => {
    const stranger = await stack.resident("user-vid-no-consent");
    expect(
      (
        await errorOf(
          stranger.trpc.video.createSession.mutate({
            cameraId: "cam-a1",
            offerSdp: await makeOffer(),
          }),
        )
      ).cause,
    ).toBe("CONSENT_REQUIRED");
    const other = await viewer("user-vid-site-b", ["site-b"]);
    expect(
      (
        await errorOf(
          other.trpc.video.createSession.mutate({
            cameraId: "cam-a1",
            offerSdp: await makeOffer(),
          }),
        )
      ).cause,
    ).toBe("FORBIDDEN_DEVICE");
    expect(
      (
        await errorOf(
          other.trpc.video.createSession.mutate({
            cameraId: "door-b1",
            offerSdp: await makeOffer(),
          }),
        )
      ).cause,
    ).toBe("FORBIDDEN_DEVICE");
    expect(
      stack.sims.intercom.recorder
        .all()
        .filter((r) => r.operation !== "metadata" && r.operation !== "token"),
    ).toHaveLength(0);
  });

  test("another resident's session cannot be ended; after consent is revoked the owner still can", async () => {
    const owner = await viewer("user-vid-owner");
    const session = await owner.trpc.video.createSession.mutate({
      cameraId: "cam-a1",
      offerSdp: await makeOffer(),
    });
    const thief = await viewer("user-vid-thief");
    expect(
      (await errorOf(thief.trpc.video.endSession.mutate({ sessionId: session.sessionId }))).code,
    ).toBe("NOT_FOUND");
    await owner.trpc.consent.revoke.mutate({ purpose: "video" });
    expect(await owner.trpc.video.endSession.mutate({ sessionId: session.sessionId })).toEqual({
      ended: true,
    });
    const closed = stack.sims.intercom.video.sessions().filter((s) => s.closedReason === "deleted");
    expect(closed.length).toBeGreaterThan(0);
  });
});
