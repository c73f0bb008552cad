import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CLIENTS, PEER, type SurfaceRig, startSurfaceRig } from "./partner-surface-rig.ts";

/** `POST /partner/v1/events`: something happened at one of the partner's devices. */

let rig: SurfaceRig;
let token: string;
beforeAll(async () => {
  rig = await startSurfaceRig();
  token = await rig.tokenFor(CLIENTS.intercom);
});
afterAll(() => rig?.close());

const postEvent = (body: unknown) => rig.postJson("/partner/v1/events", token, body);

describe("POST /partner/v1/events", () => {
  test("an event is accepted (202) and audited as partner.event", async () => {
    const at = new Date().toISOString();
    const eventsBefore = await rig.metric("propgate_partner_events_total", {
      partner: "intercom",
      type: "door.opened",
    });
    const known = await postEvent({ type: "door.opened", deviceId: "ic-a1", at });
    expect(known.status).toBe(202);
    expect(known.json).toMatchObject({
      status: "accepted",
      eventId: expect.stringMatching(/^evt_/),
    });
    expect(await rig.auditRowFor(known)).toMatchObject({
      id: known.json.eventId,
      kind: "partner.event",
      operation: "door.opened",
      partner: "intercom",
      target: "door-a1",
      result: "accepted",
      actor: `partner:${CLIENTS.intercom.clientId}`,
      clientIp: PEER,
    });
    const unknown = await postEvent({ type: "device.offline", deviceId: "ic-gone", at });
    expect(unknown.status).toBe(202);
    expect(await rig.auditRowFor(unknown)).toMatchObject({
      kind: "partner.event",
      target: "intercom/ic-gone",
      result: "unknown_device",
    });
    const line = rig.logs.find(
      (entry) =>
        entry.requestId === known.headers.get("x-request-id") && entry.msg === "partner request",
    );
    expect(line).toMatchObject({ type: "event", event: "door.opened", reportedAt: at });
    expect(
      await rig.metric("propgate_partner_events_total", {
        partner: "intercom",
        type: "door.opened",
      }),
    ).toBe(eventsBefore + 1);
  });

  test("event bodies are strict", async () => {
    const good = { type: "door.opened", deviceId: "ic-a1", at: new Date().toISOString() };
    for (const body of [
      { ...good, type: "door.exploded" },
      { ...good, at: "yesterday" },
      { ...good, subject: "a".repeat(43) },
      { type: good.type, deviceId: good.deviceId },
    ]) {
      const answer = await postEvent(body);
      expect({ body, status: answer.status, json: answer.json }).toMatchObject({
        body,
        status: 400,
        json: { error: { code: "INVALID_INPUT" } },
      });
    }
  });
});
