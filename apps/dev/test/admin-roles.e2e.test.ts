import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { countAuditEvents, listConsents, recordVpnEvent } from "@propgate/consent-audit";
import { PURPOSES } from "@propgate/domain";
import {
  errorOf,
  HIGH_RATE_LIMITS,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";
import { createOfferMaker } from "./fixtures/webrtc-offer.ts";

/*
 * Invariant 5's admin roles (issue 13): a viewer reads every admin screen's data and is refused
 * every action; an operator acts, with a reason that every audit row of the action carries with
 * the admin's id; a resident token reaches no admin procedure. The audit trail at 100,000 rows is
 * admin-roles.load.test.ts.
 */

let stack: TestStack;
beforeAll(async () => {
  // The erasure outbox is driven by hand (runErasuresOnce); pages are walked by one admin.
  stack = await startTestStack({ env: { ...HIGH_RATE_LIMITS, ERASURE_INTERVAL_MS: "3600000" } });
});
afterAll(() => stack.close());

const offers = createOfferMaker();
afterAll(() => offers.close());

const as = async (sub: string, role?: "viewer" | "operator") =>
  stack.client(await stack.issuer.mint({ sub, sites: [], ...(role ? { role } : {}) }));

const REASON = 'resident asked in writing, "all of it", ticket 77';

/** The rows of the whole audit table, as a count (an action refused must write none). */
async function auditCount() {
  await stack.deps.auditWriter.flush();
  return countAuditEvents(stack.database.db);
}

/** A resident with every purpose granted. */
async function residentWithConsents(userId: string) {
  const resident = await stack.resident(userId);
  for (const purpose of PURPOSES) {
    await resident.trpc.consent.grant.mutate({ purpose, noticeVersion: 1 });
  }
  return resident;
}

/** A block in force on a resident who tried ten devices that are not theirs. */
async function blockOf(userId: string) {
  const prober = await stack.resident(userId);
  for (let i = 0; i < 10; i++) {
    await errorOf(prober.trpc.intercom.openDoor.mutate({ deviceId: `door-probe${i}` }));
  }
  await stack.deps.watch.settle();
  const operator = await as("operator-blocks", "operator");
  const [block] = await operator.admin.blocks.list.query({ subjectId: userId, activeOnly: true });
  if (!block) throw new Error("ten refused devices placed no block");
  return block;
}

describe("admin.me", () => {
  test("names the caller and their role; the old propgate:admin role is an operator", async () => {
    expect(await (await as("viewer-me", "viewer")).admin.me.query()).toEqual({
      userId: "viewer-me",
      role: "viewer",
    });
    expect(await (await as("operator-me", "operator")).admin.me.query()).toEqual({
      userId: "operator-me",
      role: "operator",
    });
    const legacy = stack.client(
      await stack.issuer.mint({ sub: "admin-me", sites: [], admin: true }),
    );
    expect(await legacy.admin.me.query()).toEqual({ userId: "admin-me", role: "operator" });
  });
});

describe("a viewer", () => {
  test("reads every screen's data", async () => {
    const resident = await residentWithConsents("user-viewed");
    await resident.trpc.consent.revoke.mutate({ purpose: "faces" });
    await recordVpnEvent(stack.database.db, {
      iface: "wg0",
      peerFingerprint: "0123456789abcdef",
      endpointIp: "198.51.100.4",
      kind: "connected",
      at: new Date(),
      rxBytes: 0,
      txBytes: 0,
    });
    const viewer = await as("viewer-reads", "viewer");
    const person = await viewer.admin.residents.get.query({ userId: "user-viewed" });
    expect(person.consents.map((c) => [c.purpose, c.state])).toEqual(
      PURPOSES.map((purpose) => [purpose, purpose === "faces" ? "revoked" : "granted"]),
    );
    const faces = person.consents.find((c) => c.purpose === "faces");
    expect(
      faces?.history.map((entry) => [entry.action, entry.noticeVersion, entry.channel]),
    ).toEqual([
      ["revoke", null, "app"],
      ["grant", 1, "app"],
    ]);
    expect(person.erasures).toEqual([
      expect.objectContaining({ categories: ["faces"], status: "pending" }),
    ]);
    expect(person.videoSessions).toEqual([]);
    expect(await viewer.admin.consents.list.query({ userId: "user-viewed" })).toHaveLength(
      PURPOSES.length,
    );
    expect((await viewer.admin.erasures.list.query({ userId: "user-viewed" }))[0]?.status).toBe(
      "pending",
    );
    expect(await viewer.admin.videoSessions.list.query({})).toBeArray();
    const page = await viewer.admin.audit.list.query({ userId: "user-viewed" });
    expect(page.rows.length).toBeGreaterThanOrEqual(6);
    expect(page).toMatchObject({ prevCursor: null, nextCursor: null });
    const exported = await viewer.admin.audit.export.query({ userId: "user-viewed" });
    expect(exported.rows).toBe(page.rows.length);
    expect(await viewer.admin.audit.verify.query()).toMatchObject({ ok: true });
    expect(await viewer.admin.anomalies.list.query()).toBeArray();
    expect(await viewer.admin.blocks.list.query()).toBeArray();
    expect(await viewer.admin.partners.health.query()).toMatchObject({ checks: expect.any(Array) });
    expect(await viewer.admin.devices.list.query()).toContainEqual(
      expect.objectContaining({ id: "door-a1" }),
    );
    const vpn = await viewer.admin.vpn.events.query({ peerFingerprint: "0123456789abcdef" });
    expect(vpn[0]).toMatchObject({ kind: "connected", iface: "wg0" });
  });

  test("is refused every action, FORBIDDEN with a clear message, and nothing changes", async () => {
    const kept = await residentWithConsents("user-kept");
    await kept.trpc.consent.revoke.mutate({ purpose: "plates" });
    const block = await blockOf("user-viewer-prober");
    const operator = await as("operator-setup", "operator");
    const [erasure] = await operator.admin.erasures.list.query({ userId: "user-kept" });
    if (!erasure) throw new Error("no pending erasure to retry");
    const viewer = await as("viewer-acts", "viewer");
    const before = await auditCount();
    const attempts = [
      () =>
        viewer.admin.consents.revoke.mutate({
          userId: "user-kept",
          purpose: "intercom",
          reason: REASON,
        }),
      () => viewer.admin.consents.revoke.mutate({ userId: "user-kept", all: true, reason: REASON }),
      () => viewer.admin.blocks.lift.mutate({ blockId: block.id, reason: REASON }),
      () =>
        viewer.admin.devices.upsert.mutate({
          devices: [
            {
              id: "door-viewer",
              kind: "door",
              siteId: "site-v",
              partner: "intercom",
              partnerDeviceId: "ic-viewer",
              name: "Viewer's door",
            },
          ],
          reason: REASON,
        }),
      () => viewer.admin.erasures.retry.mutate({ erasureId: erasure.id, reason: REASON }),
      () =>
        viewer.admin.videoSessions.end.mutate({
          sessionId: "vss_00000000000000000000",
          reason: REASON,
        }),
      // Refused before the input is read: a viewer learns nothing from a bad one either.
      () =>
        viewer.admin.consents.revoke.mutate({ userId: "user-kept", purpose: "intercom" } as never),
    ];
    for (const attempt of attempts) {
      const error = await errorOf(attempt());
      expect(error).toMatchObject({ code: "FORBIDDEN", httpStatus: 403, cause: "FORBIDDEN" });
      expect(error.message).toBe("the viewer role reads only; this action needs the operator role");
    }
    expect(await auditCount()).toBe(before);
    const consents = await listConsents(stack.database.db, "user-kept");
    // Every purpose still granted but plates, which the resident revoked themselves.
    expect(consents.map((c) => [c.purpose, c.state])).toEqual(
      PURPOSES.map((purpose) => [purpose, purpose === "plates" ? "revoked" : "granted"]),
    );
    expect(await viewer.admin.blocks.list.query({ subjectId: "user-viewer-prober" })).toEqual([
      expect.objectContaining({ id: block.id, liftedAt: null }),
    ]);
    expect((await viewer.admin.devices.list.query()).some((d) => d.id === "door-viewer")).toBe(
      false,
    );
  });
});

describe("client addresses in the audit trail", () => {
  test("a viewer sees them cut to their network, in pages and in the CSV; an operator whole", async () => {
    // The resident calls from this machine: its rows carry 127.0.0.1 as their client address.
    const resident = await residentWithConsents("user-addressed");
    await resident.trpc.consent.revoke.mutate({ purpose: "faces" });
    const filter = { userId: "user-addressed" };
    const viewer = await as("viewer-addresses", "viewer");
    const operator = await as("operator-addresses", "operator");

    const viewed = await viewer.admin.audit.list.query(filter);
    expect(viewed.rows.length).toBeGreaterThanOrEqual(6);
    expect(new Set(viewed.rows.map((row) => row.clientIp))).toEqual(new Set(["127.0.x.x"]));
    const operated = await operator.admin.audit.list.query(filter);
    expect(new Set(operated.rows.map((row) => row.clientIp))).toEqual(new Set(["127.0.0.1"]));
    // The same rows either way; only the address differs.
    expect(viewed.rows.map((row) => row.id)).toEqual(operated.rows.map((row) => row.id));

    const clientIps = (csv: string) => {
      const [header, ...lines] = csv.trimEnd().split("\r\n");
      const column = header?.split(",").indexOf('"client_ip"') ?? -1;
      expect(column).toBe(8);
      return new Set(lines.map((line) => line.split(",")[column]));
    };
    const viewerCsv = await viewer.admin.audit.export.query(filter);
    expect(viewerCsv.rows).toBe(viewed.rows.length);
    expect(clientIps(viewerCsv.csv)).toEqual(new Set(['"127.0.x.x"']));
    expect(viewerCsv.csv).not.toContain("127.0.0.1");
    const operatorCsv = await operator.admin.audit.export.query(filter);
    expect(clientIps(operatorCsv.csv)).toEqual(new Set(['"127.0.0.1"']));

    // Each export is audited as who took it and about whom, the viewer's too.
    await stack.deps.auditWriter.flush();
    const exports = await operator.admin.audit.list.query({
      ...filter,
      kind: "admin.audit.export",
    });
    expect(exports.rows.map((row) => [row.actor, row.result, row.clientIp])).toEqual([
      ["operator-addresses", "ok", "127.0.0.1"],
      ["viewer-addresses", "ok", "127.0.0.1"],
    ]);
  });
});

describe("a resident token (no admin role)", () => {
  test("is FORBIDDEN on every admin procedure, reads and actions alike", async () => {
    const resident = await stack.resident("user-no-role");
    const calls = [
      () => resident.trpc.admin.me.query(),
      () => resident.trpc.admin.residents.get.query({ userId: "user-viewed" }),
      () => resident.trpc.admin.consents.list.query({ userId: "user-viewed" }),
      () => resident.trpc.admin.audit.list.query({}),
      () => resident.trpc.admin.audit.export.query({}),
      () => resident.trpc.admin.audit.verify.query(),
      () => resident.trpc.admin.vpn.events.query(),
      () => resident.trpc.admin.partners.health.query(),
      () => resident.trpc.admin.anomalies.list.query(),
      () => resident.trpc.admin.blocks.list.query(),
      () => resident.trpc.admin.erasures.list.query({}),
      () => resident.trpc.admin.videoSessions.list.query({}),
      () => resident.trpc.admin.devices.list.query(),
      () =>
        resident.trpc.admin.consents.revoke.mutate({
          userId: "user-no-role",
          all: true,
          reason: REASON,
        }),
    ];
    for (const call of calls) {
      expect(await errorOf(call())).toMatchObject({ code: "FORBIDDEN", cause: "FORBIDDEN" });
    }
  });
});

describe("an operator", () => {
  test("revokes one purpose, then all, with a reason: refused at once, audited with the admin and reason", async () => {
    const resident = await residentWithConsents("user-revoked");
    const operator = await as("operator-revokes", "operator");
    const one = await operator.admin.consents.revoke.mutate({
      userId: "user-revoked",
      purpose: "intercom",
      reason: REASON,
    });
    expect(one.find((c) => c.purpose === "intercom")?.state).toBe("revoked");
    stack.sims.intercom.recorder.clear();
    expect(
      await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" })),
    ).toMatchObject({ cause: "CONSENT_REQUIRED" });
    expect(stack.sims.intercom.recorder.all()).toEqual([]);

    const all = await operator.admin.consents.revoke.mutate({
      userId: "user-revoked",
      all: true,
      reason: "second request: everything",
    });
    expect(all.map((c) => c.state)).toEqual(PURPOSES.map(() => "revoked"));
    const { rows } = await operator.admin.audit.list.query({
      userId: "user-revoked",
      kind: "consent.revoke",
    });
    // Newest first: the rest in the order they are listed, revoked by the second request.
    expect(rows.map((row) => [row.purpose, row.actor, row.reason])).toEqual([
      ...PURPOSES.filter((purpose) => purpose !== "intercom")
        .reverse()
        .map((purpose) => [purpose, "operator-revokes", "second request: everything"]),
      ["intercom", "operator-revokes", REASON],
    ]);
    const person = await operator.admin.residents.get.query({ userId: "user-revoked" });
    const intercom = person.consents.find((c) => c.purpose === "intercom");
    expect(intercom?.history[0]).toMatchObject({
      action: "revoke",
      channel: "admin",
      actor: "admin:operator-revokes",
      reason: REASON,
    });
    expect(person.erasures.map((e) => e.categories).sort()).toEqual([["faces"], ["plates"]]);
    // Revoking all again changes nothing and writes nothing.
    const before = await auditCount();
    await operator.admin.consents.revoke.mutate({
      userId: "user-revoked",
      all: true,
      reason: REASON,
    });
    expect(await auditCount()).toBe(before);
  });

  test("must give a reason of 3 to 500 characters", async () => {
    const operator = await as("operator-terse", "operator");
    for (const reason of [undefined, "", "  ok  ", "x".repeat(501)]) {
      const error = await errorOf(
        operator.admin.consents.revoke.mutate({
          userId: "user-revoked",
          purpose: "video",
          ...(reason === undefined ? {} : { reason }),
        } as never),
      );
      expect(error).toMatchObject({ code: "BAD_REQUEST", cause: "INVALID_INPUT" });
    }
    const bad = await errorOf(
      operator.admin.consents.revoke.mutate({
        userId: "user-revoked",
        purpose: "video",
        all: true,
        reason: REASON,
      } as never),
    );
    expect(bad.code).toBe("BAD_REQUEST");
  });

  test("lifts a block and registers a device with a reason on the audit row", async () => {
    const block = await blockOf("user-operator-prober");
    const operator = await as("operator-lifts", "operator");
    await operator.admin.blocks.lift.mutate({ blockId: block.id, reason: "false alarm, checked" });
    await operator.admin.devices.upsert.mutate({
      devices: [
        {
          id: "door-op1",
          kind: "door",
          siteId: "site-op",
          partner: "intercom",
          partnerDeviceId: "ic-op1",
          name: "Operator's door",
        },
      ],
      reason: "new entrance",
    });
    const lifted = await operator.admin.audit.list.query({ kind: "admin.blocks.lift", limit: 1 });
    expect(lifted.rows[0]).toMatchObject({
      actor: "operator-lifts",
      reason: "false alarm, checked",
      target: block.id,
    });
    const upserted = await operator.admin.audit.list.query({ target: "door-op1" });
    expect(upserted.rows).toEqual([
      expect.objectContaining({ kind: "admin.devices.upsert", reason: "new entrance" }),
    ]);
  });

  test("retries an erasure the partner refused: due now, sent on the next pass, audited", async () => {
    const resident = await residentWithConsents("user-erase-retry");
    await stack.background.runErasuresOnce(); // the other tests' erasures, out of the way
    // One pass makes three attempts: all refused (503), so the request backs off.
    stack.sims.intercom.faults.set({ failErasures: 3 });
    try {
      await resident.trpc.consent.revoke.mutate({ purpose: "faces" });
      await stack.background.runErasuresOnce(); // refused: backed off
    } finally {
      stack.sims.intercom.faults.reset();
    }
    const operator = await as("operator-retries", "operator");
    const [failed] = await operator.admin.erasures.list.query({ userId: "user-erase-retry" });
    expect(failed).toMatchObject({ status: "pending", attempts: 1 });
    expect(Date.parse(failed?.nextAttemptAt ?? "")).toBeGreaterThan(Date.now());
    const retried = await operator.admin.erasures.retry.mutate({
      erasureId: failed?.id ?? "",
      reason: "partner fixed their side",
    });
    expect(Date.parse(retried.nextAttemptAt)).toBeLessThanOrEqual(Date.now());
    const erasedBefore = stack.sims.intercom.data.erasures().length;
    await stack.background.runErasuresOnce();
    const [done] = await operator.admin.erasures.list.query({ userId: "user-erase-retry" });
    expect(done?.status).toBe("done");
    expect(stack.sims.intercom.data.erasures()).toHaveLength(erasedBefore + 1);
    const { rows } = await operator.admin.audit.list.query({ kind: "admin.erasures.retry" });
    expect(rows[0]).toMatchObject({
      userId: "user-erase-retry",
      actor: "operator-retries",
      reason: "partner fixed their side",
      callId: failed?.id,
    });
    expect(
      await errorOf(
        operator.admin.erasures.retry.mutate({ erasureId: failed?.id ?? "", reason: "again" }),
      ),
    ).toMatchObject({ code: "BAD_REQUEST", cause: "INVALID_INPUT" });
  });

  test("ends a live video session: queued, ended at the partner, audited", async () => {
    const resident = await residentWithConsents("user-video-ended");
    const sim = stack.sims.intercom;
    const known = new Set(sim.video.sessions().map((s) => s.sessionId));
    const session = await resident.trpc.video.createSession.mutate({
      cameraId: "cam-a1",
      offerSdp: await offers.makeOffer(),
    });
    const partnerSide = sim.video.sessions().find((s) => !known.has(s.sessionId));
    if (!partnerSide) throw new Error("the partner holds no new session");
    const operator = await as("operator-video", "operator");
    const ending = await operator.admin.videoSessions.end.mutate({
      sessionId: session.sessionId,
      reason: "camera abuse report",
    });
    expect(ending).toMatchObject({ id: session.sessionId, state: "ending", endReason: "admin" });
    expect(ending).not.toHaveProperty("sessionPath");
    const closed = await sim.video.waitForSessionState(partnerSide.sessionId, "closed", 5000);
    expect(closed.closedReason).toBe("deleted");
    for (const deadline = Date.now() + 5000; ; await Bun.sleep(50)) {
      const [row] = await operator.admin.videoSessions.list.query({ userId: "user-video-ended" });
      if (row?.state === "ended") break;
      if (Date.now() > deadline) throw new Error(`not ended: ${JSON.stringify(row)}`);
    }
    const { rows } = await operator.admin.audit.list.query({
      userId: "user-video-ended",
      kind: "admin.video_sessions.end",
    });
    expect(rows).toEqual([
      expect.objectContaining({
        actor: "operator-video",
        reason: "camera abuse report",
        target: "cam-a1",
        result: "ok",
      }),
    ]);
    expect(
      await errorOf(
        operator.admin.videoSessions.end.mutate({
          sessionId: "vss_00000000000000000000",
          reason: "no such session",
        }),
      ),
    ).toMatchObject({ code: "NOT_FOUND" });
  });
});
