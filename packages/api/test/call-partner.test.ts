import { describe, expect, test } from "bun:test";
import { type AuditContext, ConsentRequiredError } from "@propgate/consent-audit";
import { DomainError } from "@propgate/domain";
import { PartnerUnavailableError, videoOperations } from "@propgate/partner-client";
import { OPERATIONS } from "@propgate/partner-client/contract";
import type { Principal } from "../src/auth.ts";
import {
  type CallIo,
  type CallTarget,
  callPartner,
  type PartnerCallScope,
  type ResidentOperation,
} from "../src/partner-call/call-partner.ts";
import { RequestTiming } from "../src/timing.ts";
import {
  deniedCounts,
  device,
  partnerAnswers,
  partnerCallServices,
  stubIntercom,
} from "./fake-services.ts";

/**
 * `callPartner` in-process: fakes of its services (devices, consent, subjects, audit writer,
 * watch), the real in-flight tracking and the real partner client over a stub `fetch`.
 */

const ANNA: Principal = {
  userId: "resident-anna",
  sites: ["site-a", "site-b"],
  units: [],
  adminRole: null,
};
const AUDIT: AuditContext = {
  sourceApp: "api",
  instanceId: "api-test",
  clientIp: "198.51.100.7",
  requestId: "req-1",
  actor: ANNA.userId,
};
const DEVICES = [
  device({ id: "door-a", kind: "door", siteId: "site-a", partner: "intercom" }),
  device({ id: "door-elsewhere", kind: "door", siteId: "site-z", partner: "intercom" }),
  device({ id: "gate-a", kind: "gate", siteId: "site-a", partner: "barrier" }),
  // A door the barrier partner serves: of the right kind, but not the operation's partner.
  device({ id: "door-barrier", kind: "door", siteId: "site-a", partner: "barrier" }),
  device({ id: "camera-b", kind: "camera", siteId: "site-b", partner: "barrier" }),
];

function setUp(
  options: { replies?: Parameters<typeof stubIntercom>[0]; timing?: RequestTiming } = {},
) {
  const { services, consent, events } = partnerCallServices(DEVICES);
  for (const purpose of ["intercom", "barrier", "video", "plates", "faces"] as const)
    consent.grant(ANNA.userId, purpose);
  const partner = stubIntercom(options.replies ?? [partnerAnswers.opened], events);
  const scope = (operation: ResidentOperation): PartnerCallScope => ({
    services,
    principal: ANNA,
    audit: AUDIT,
    operation,
    purpose: OPERATIONS[operation].purpose,
    timing: options.timing,
  });
  /** An open through the partner client, as `intercom.openDoor` makes it. */
  const open = (io: CallIo) =>
    partner.openDoor({
      partnerDeviceId: io.device?.partnerDeviceId ?? "none",
      subject: io.subject,
      idempotencyKey: "open-key-1",
      hooks: io.hooks,
      signal: io.signal,
    });
  const openDoor = (target: CallTarget) => callPartner(scope("intercom.open"), target, open);
  return { services, consent, events, partner, scope, open, openDoor };
}

async function errorOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

function codeOf(error: Error): string {
  return error instanceof DomainError ? error.code : `not a domain error: ${error.message}`;
}

describe("callPartner: a refused device, site or consent is audited and counted, nothing sent", () => {
  test.each([
    ["an unknown device", "door-unknown"],
    ["a device on a site not in the resident's token", "door-elsewhere"],
    ["a device of another kind (a gate for a door open)", "gate-a"],
    ["a door the operation's partner does not serve", "door-barrier"],
  ])("%s is FORBIDDEN_DEVICE, all alike", async (_case, deviceId) => {
    const { services, events, partner, openDoor } = setUp();
    const error = await errorOf(openDoor({ device: deviceId }));
    expect(codeOf(error)).toBe("FORBIDDEN_DEVICE");
    expect(error.message).toBe("this device is not available to you");
    expect(services.auditWriter.rows).toEqual([
      {
        kind: "access.denied",
        row: {
          userId: ANNA.userId,
          operation: "intercom.open",
          target: deviceId,
          errorCode: "FORBIDDEN_DEVICE",
          purpose: "intercom",
        },
        audit: AUDIT,
      },
    ]);
    expect(services.watch.observed).toEqual([
      ["refused_targets", ANNA.userId, `FORBIDDEN_DEVICE:${deviceId}`],
    ]);
    expect(await deniedCounts(services.metrics)).toEqual({ forbidden_device: 1 });
    expect(services.subjects.recorded).toEqual([]);
    expect(partner.requests).toEqual([]);
    expect(events).toEqual(["denied FORBIDDEN_DEVICE"]);
  });

  test("a site not in the resident's token is FORBIDDEN, audited as FORBIDDEN_SITE", async () => {
    const { services, partner, scope, open } = setUp();
    const error = await errorOf(callPartner(scope("plates.list"), { site: "site-z" }, open));
    expect(codeOf(error)).toBe("FORBIDDEN");
    expect(error.message).toBe("this site is not available to you");
    expect(services.auditWriter.rows.map((entry) => entry.row)).toEqual([
      {
        userId: ANNA.userId,
        operation: "plates.list",
        target: "site-z",
        errorCode: "FORBIDDEN_SITE",
        purpose: "plates",
      },
    ]);
    expect(services.watch.observed).toEqual([
      ["refused_targets", ANNA.userId, "FORBIDDEN_SITE:site-z"],
    ]);
    expect(await deniedCounts(services.metrics)).toEqual({ forbidden_site: 1 });
    expect(partner.requests).toEqual([]);
  });

  test.each([
    ["never granted", "none"],
    ["revoked", "revoked"],
  ] as const)(
    "consent %s is CONSENT_REQUIRED naming its audit row; probing is recorded, not blocked",
    async (_case, state) => {
      const { services, consent, partner, openDoor } = setUp();
      if (state === "none") consent.revoke(ANNA.userId, "intercom");
      else {
        consent.grant(ANNA.userId, "intercom");
        consent.revoke(ANNA.userId, "intercom");
      }
      const error = await errorOf(openDoor({ device: "door-a" }));
      expect(error).toBeInstanceOf(ConsentRequiredError);
      expect(codeOf(error)).toBe("CONSENT_REQUIRED");
      expect((error as ConsentRequiredError).eventId).toBe("evt_1");
      expect(services.auditWriter.rows.map((entry) => entry.row)).toEqual([
        {
          userId: ANNA.userId,
          operation: "intercom.open",
          target: "door-a",
          errorCode: "CONSENT_REQUIRED",
          purpose: "intercom",
        },
      ]);
      expect(services.watch.observed).toEqual([["consent_refusals", ANNA.userId]]);
      expect(await deniedCounts(services.metrics)).toEqual({ consent_required: 1 });
      expect(services.subjects.recorded).toEqual([]);
      expect(partner.requests).toEqual([]);
    },
  );

  test("when the pseudonym cannot be recorded the call fails with that error and nothing is sent", async () => {
    const { services, partner, openDoor } = setUp();
    const down = new Error("connection refused");
    services.subjects.failWith(down);
    expect(await errorOf(openDoor({ device: "door-a" }))).toBe(down);
    expect(services.auditWriter.rows).toEqual([]);
    expect(partner.requests).toEqual([]);
  });

  test("a refusal whose audit row cannot be written fails with the writer's error, never unaudited", async () => {
    const { services, partner, openDoor } = setUp();
    const down = new Error("connection refused");
    services.auditWriter.denied = () => Promise.reject(down);
    expect(await errorOf(openDoor({ device: "door-unknown" }))).toBe(down);
    expect(partner.requests).toEqual([]);
  });

  test("a device target for an operation that acts on no device is a programming error", async () => {
    const { services, partner, scope, open } = setUp();
    const error = await errorOf(callPartner(scope("plates.list"), { device: "door-a" }, open));
    expect(error.message).toBe("plates.list acts on no device");
    expect(error).not.toBeInstanceOf(DomainError);
    expect(services.auditWriter.rows).toEqual([]);
    expect(partner.requests).toEqual([]);
  });

  test("an operation without a partner of its own needs a target that names one", async () => {
    const { services, partner, scope, open } = setUp();
    const error = await errorOf(callPartner(scope("video.end_session"), { own: "vss_1" }, open));
    expect(error.message).toBe("no partner serves video.end_session for this target");
    expect(services.auditWriter.rows).toEqual([]);
    expect(partner.requests).toEqual([]);
  });
});

describe("callPartner: the audit hooks around every request sent", () => {
  test("each attempt gets its request row before it is sent and its answer row after", async () => {
    const { services, events, partner, openDoor } = setUp({
      replies: [partnerAnswers.busy, partnerAnswers.opened],
    });
    expect(await openDoor({ device: "door-a" })).toEqual({
      eventId: "open-1",
      openedAt: "2025-05-01T10:00:00.000Z",
    });
    expect(events).toEqual([
      "request #1",
      "sent",
      "response #1 error",
      "request #2",
      "sent",
      "response #2 success",
    ]);
    expect(partner.requests).toHaveLength(2);
    const [request1, response1, request2, response2] = services.auditWriter.rows;
    const callId = request1?.kind === "partner.request" ? request1.row.callId : "";
    expect(callId).toMatch(/^call_/);
    expect(request1).toEqual({
      kind: "partner.request",
      row: {
        userId: ANNA.userId,
        purpose: "intercom",
        operation: "intercom.open",
        partner: "intercom",
        target: "door-a",
        attempt: 1,
        callId,
        endsProcessing: undefined,
      },
      audit: AUDIT,
    });
    expect(response1?.row).toMatchObject({
      callId,
      attempt: 1,
      result: "error",
      httpStatus: 503,
      target: "door-a",
    });
    expect(request2?.row).toMatchObject({ callId, attempt: 2 });
    expect(response2?.row).toMatchObject({
      callId,
      attempt: 2,
      result: "success",
      httpStatus: 200,
    });
    // The pseudonym, recorded for the partner that serves the device, with the token's sites.
    expect(services.subjects.recorded).toEqual([
      { partner: "intercom", userId: ANNA.userId, sites: ["site-a", "site-b"] },
    ]);
  });

  test("a partner that keeps failing: every answer row says error and the caller gets PARTNER_UNAVAILABLE", async () => {
    const { services, openDoor } = setUp({ replies: [partnerAnswers.busy] });
    const error = await errorOf(openDoor({ device: "door-a" }));
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    const answers = services.auditWriter.rows.filter((entry) => entry.kind === "partner.response");
    expect(
      answers.map((entry) => [entry.row.attempt, entry.row.result, entry.row.httpStatus]),
    ).toEqual([
      [1, "error", 503],
      [2, "error", 503],
      [3, "error", 503],
    ]);
    expect(
      services.auditWriter.rows.filter((entry) => entry.kind === "partner.request"),
    ).toHaveLength(3);
  });

  test("a revocation the early answer missed is caught by the attempt's gate: CONSENT_REQUIRED, nothing sent", async () => {
    const { services, consent, partner, openDoor } = setUp();
    // The early answer still says granted (a cache a moment behind); the consent row does not.
    services.consents.isGranted = async () => true;
    consent.revoke(ANNA.userId, "intercom");
    const error = await errorOf(openDoor({ device: "door-a" }));
    expect(codeOf(error)).toBe("CONSENT_REQUIRED");
    expect(services.auditWriter.rows.map((entry) => entry.kind)).toEqual(["access.denied"]);
    expect(partner.requests).toEqual([]);
  });

  test("the request's Server-Timing gets the wait for the request row and the partner's time", async () => {
    const timing = new RequestTiming();
    const slowPartner = async () => {
      await Bun.sleep(3); // the partner's own time, as the timing sees it
      return partnerAnswers.opened();
    };
    const { services, openDoor } = setUp({ timing, replies: [slowPartner] });
    const attempt = services.auditWriter.attempt;
    services.auditWriter.attempt = async (row, audit) => {
      await Bun.sleep(5); // the commit of the request row, as the timing sees it
      return attempt(row, audit);
    };
    await openDoor({ device: "door-a" });
    const spans = Object.fromEntries(
      timing
        .header()
        .split(", ")
        .map((span) => {
          const [name, dur] = span.split(";");
          return [name, Number(dur?.replace("dur=", ""))];
        }),
    );
    expect(spans.audit).toBeGreaterThanOrEqual(4);
    expect(spans.partner).toBeGreaterThanOrEqual(2);
    expect(spans.total).toBeGreaterThanOrEqual(spans.audit + spans.partner);
  });
});

describe("callPartner: calls in flight", () => {
  test("a revocation while the request is out abandons the call with CONSENT_REQUIRED", async () => {
    const { services, events, partner, openDoor } = setUp({ replies: [partnerAnswers.silent] });
    const opening = errorOf(openDoor({ device: "door-a" }));
    await partner.onSent;
    // What the consent bus does when any instance commits a revocation.
    expect(services.inflight.abort(ANNA.userId, "intercom")).toBe(1);
    const error = await opening;
    expect(error).toBeInstanceOf(ConsentRequiredError);
    expect(codeOf(error)).toBe("CONSENT_REQUIRED");
    // Abandoned, not answered: the request row stands alone (no answer row follows).
    expect(events).toEqual(["request #1", "sent"]);
    expect(partner.requests).toHaveLength(1);
  });
});

describe("callPartner: calls that end processing", () => {
  test("are sent without consent, and their request row says they end processing", async () => {
    const { services, consent, events, scope } = setUp();
    consent.revoke(ANNA.userId, "video");
    const stub = stubIntercom([async () => new Response(null, { status: 204 })], events);
    const ended = await callPartner(
      scope("video.end_session"),
      { own: "camera-b", partner: "intercom" },
      (io) =>
        videoOperations(stub.client).endSession({
          sessionPath: "/api/v1/sessions/s-1",
          partnerSessionId: "s-1",
          hooks: io.hooks,
        }),
      { endsProcessing: true },
    );
    expect(ended).toEqual({ ended: true });
    expect(events).toEqual(["request #1", "sent", "response #1 success"]);
    expect(services.auditWriter.rows[0]?.row).toMatchObject({
      operation: "video.end_session",
      partner: "intercom",
      target: "camera-b",
      endsProcessing: true,
    });
    expect(services.watch.observed).toEqual([]);
  });

  test("are not abandoned by a revocation", async () => {
    const { services, events, scope } = setUp();
    let answer: (response: Response) => void = () => {};
    const stub = stubIntercom(
      [() => new Promise<Response>((resolve) => (answer = resolve))],
      events,
    );
    const ending = callPartner(
      scope("video.end_session"),
      { own: "camera-b", partner: "intercom" },
      (io) =>
        videoOperations(stub.client).endSession({
          sessionPath: "/api/v1/sessions/s-1",
          partnerSessionId: "s-1",
          hooks: io.hooks,
          signal: io.signal,
        }),
      { endsProcessing: true },
    );
    await stub.onSent;
    expect(services.inflight.abort(ANNA.userId, "video")).toBe(0);
    answer(new Response(null, { status: 204 }));
    await ending;
    expect(events).toEqual(["request #1", "sent", "response #1 success"]);
  });
});
