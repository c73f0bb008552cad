import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { errorOf, type Resident, startTestStack } from "../src/testing/harness.ts";
import { createOfferMaker } from "./fixtures/webrtc-offer.ts";

// docs/architecture.md, "Partner contract: read tolerantly, write strictly": answers carrying
// more than the contract names are taken; one missing a field we use is refused —
// PARTNER_PROTOCOL_ERROR for the resident, one warning line and
// propgate_partner_protocol_errors_total for operations.
const stack = await startTestStack();
afterAll(() => stack.close());
const { intercom, barrier } = stack.sims;
beforeEach(() => {
  for (const sim of [intercom, barrier]) {
    sim.faults.reset();
    sim.recorder.clear();
  }
  stack.logs.length = 0;
});
const offers = createOfferMaker();
afterAll(() => offers.close());

async function residentWith(
  userId: string,
  purposes: Array<"intercom" | "plates" | "faces" | "video">,
) {
  const resident: Resident = await stack.resident(userId);
  for (const purpose of purposes)
    await resident.trpc.consent.grant.mutate({ purpose, noticeVersion: 1 });
  return resident;
}

const refusals = () =>
  stack.logs.filter((line) => line.msg === "partner answer refused: it breaks the contract");

/** The counter's value for these labels on the api's /metrics (0 when the series is absent). */
async function protocolErrors(partner: string, operation: string, reason: string) {
  const text = await (await fetch(`${stack.metrics?.url}/metrics`)).text();
  const line = text
    .split("\n")
    .find(
      (row) =>
        row.startsWith("propgate_partner_protocol_errors_total{") &&
        row.includes(`partner="${partner}"`) &&
        row.includes(`operation="${operation}"`) &&
        row.includes(`reason="${reason}"`),
    );
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("answers with more than the contract", () => {
  test("a standard partner's extra fields and charset parameters are accepted, and never passed on", async () => {
    for (const sim of [intercom, barrier]) sim.faults.set({ dialect: "standard" });
    const resident = await residentWith("user-contract-extra", ["intercom", "plates", "faces"]);
    const opened = await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    expect(Object.keys(opened).sort()).not.toContain("requestId");
    const added = await resident.trpc.plates.add.mutate({ siteId: "site-a", plate: "A123BC77" });
    expect(added.plate).toBe("A123BC77");
    expect(added).not.toHaveProperty("_links");
    const plates = await resident.trpc.plates.list.query({ siteId: "site-a" });
    expect(plates.map((plate) => plate.plate)).toEqual(["A123BC77"]);
    expect(await resident.trpc.faces.list.query()).toEqual([]);
    expect(refusals()).toEqual([]);
  });
});

describe("answers missing what we use", () => {
  test("an open answer without its fields: PARTNER_PROTOCOL_ERROR, one warning naming them, the counter", async () => {
    const resident = await residentWith("user-contract-missing", ["intercom"]);
    const before = await protocolErrors("intercom", "intercom.open", "schema");
    intercom.faults.set({ responseMode: "bad-schema" });
    const error = await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    expect(error).toMatchObject({ code: "BAD_GATEWAY", cause: "PARTNER_PROTOCOL_ERROR" });
    const warnings = refusals();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      level: "warn",
      partner: "intercom",
      operation: "intercom.open",
      status: 200,
      reason: "schema",
      fields: ["eventId"],
    });
    expect(await protocolErrors("intercom", "intercom.open", "schema")).toBe(before + 1);
  });

  test("a WHEP answer without Location: refused, reason location, and no session is kept", async () => {
    const resident = await residentWith("user-contract-whep", ["video"]);
    const before = await protocolErrors("intercom", "video.create_session", "location");
    intercom.faults.set({ responseMode: "bad-schema" });
    const error = await errorOf(
      resident.trpc.video.createSession.mutate({
        cameraId: "cam-a1",
        offerSdp: await offers.makeOffer(),
      }),
    );
    expect(error).toMatchObject({ code: "BAD_GATEWAY", cause: "PARTNER_PROTOCOL_ERROR" });
    expect(refusals()).toEqual([
      expect.objectContaining({
        partner: "intercom",
        operation: "video.create_session",
        status: 201,
        reason: "location",
        fields: ["Location"],
      }),
    ]);
    // Never the SDP in the warning.
    expect(JSON.stringify(refusals())).not.toContain("v=0");
    expect(await protocolErrors("intercom", "video.create_session", "location")).toBe(before + 1);
    expect(await resident.trpc.video.listSessions.query()).toEqual([]);
  });
});
