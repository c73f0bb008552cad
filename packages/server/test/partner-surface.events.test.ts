import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { countAuditEvents } from "@propgate/consent-audit";
import {
  CLIENTS,
  expectSurfaceError,
  PEER,
  type SurfaceRig,
  startSurfaceRig,
} from "./partner-surface-rig.ts";

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

  test("call and access events of each type are accepted and audited by type and device", async () => {
    const at = new Date().toISOString();
    const subject = rig.subjectAt("intercom", await rig.resident());
    const events = [
      {
        type: "call.incoming",
        eventId: `ring-${crypto.randomUUID()}`,
        deviceId: "ic-a1",
        unitId: "42",
        cameraId: "cam-a1",
        at,
      },
      {
        type: "call.ended",
        eventId: `end-${crypto.randomUUID()}`,
        deviceId: "ic-a1",
        unitId: "42",
        outcome: "missed",
        durationSeconds: 30,
        callEventId: "ring-1",
        at,
      },
      {
        type: "call.ended",
        eventId: "e:2",
        deviceId: "ic-a1",
        unitId: "42",
        outcome: "answered",
        durationSeconds: 0,
        at,
      },
      { type: "access.granted", eventId: "g-1", deviceId: "ic-a2", method: "face", subject, at },
      { type: "access.granted", eventId: "g-2", deviceId: "ic-a2", method: "code", at },
      { type: "access.denied", eventId: "d-1", deviceId: "ic-gone", method: "key", at },
      { type: "door.opened", eventId: "o-1", deviceId: "ic-b1", at },
    ];
    const targets = [
      "door-a1",
      "door-a1",
      "door-a1",
      "door-a2",
      "door-a2",
      "intercom/ic-gone",
      "door-b1",
    ];
    for (const [index, event] of events.entries()) {
      const answer = await postEvent(event);
      expect({ event, status: answer.status, json: answer.json }).toEqual({
        event,
        status: 202,
        json: { status: "accepted", eventId: expect.stringMatching(/^evt_/) },
      });
      const row = await rig.auditRowFor(answer);
      expect(row).toMatchObject({
        id: answer.json.eventId,
        kind: "partner.event",
        operation: event.type,
        partner: "intercom",
        target: targets[index],
        result: targets[index]?.startsWith("intercom/") ? "unknown_device" : "accepted",
      });
      // the row keeps ids and the type, never the subject
      expect(JSON.stringify(row)).not.toContain(subject);
      const line = rig.logs.find(
        (entry) =>
          entry.requestId === answer.headers.get("x-request-id") && entry.msg === "partner request",
      );
      expect(line).toMatchObject({ event: event.type, partnerEventId: event.eventId });
      expect(JSON.stringify(line)).not.toContain(subject);
    }
  });

  test("a call or access event with a field not in its shape, or a bad value, is refused 400 and stores nothing", async () => {
    const at = new Date().toISOString();
    const ring = { type: "call.incoming", eventId: "r-1", deviceId: "ic-a1", unitId: "42", at };
    const ended = {
      ...{ type: "call.ended", eventId: "e-1", deviceId: "ic-a1", unitId: "42" },
      ...{ outcome: "answered", durationSeconds: 12, at },
    };
    const granted = {
      type: "access.granted",
      eventId: "g-1",
      deviceId: "ic-a1",
      method: "plate",
      at,
    };
    const cases: Array<[unknown, string]> = [
      [{ ...granted, plate: "CANARY-PLATE-A000BC799" }, 'Unrecognized key: "plate"'],
      [{ ...granted, image: btoa("CANARY-IMAGE") }, 'Unrecognized key: "image"'],
      [{ ...ring, name: "CANARY-NAME Ivanova" }, 'Unrecognized key: "name"'],
      [{ ...ring, phone: "+7 900 000-00-00" }, 'Unrecognized key: "phone"'],
      [{ ...ended, unitId: "flat 42, Lenina st." }, "unitId"],
      [{ ...ring, eventId: undefined }, "eventId"],
      [{ ...ring, eventId: "x".repeat(129) }, "eventId"],
      [{ ...ring, unitId: undefined }, "unitId"],
      [{ ...ring, outcome: "missed" }, 'Unrecognized key: "outcome"'],
      [{ ...ended, outcome: "ignored" }, "outcome"],
      [{ ...ended, durationSeconds: 86_401 }, "durationSeconds"],
      [{ ...ended, durationSeconds: 1.5 }, "durationSeconds"],
      [{ ...granted, method: "palm" }, "method"],
      [{ ...granted, subject: "not-a-pseudonym" }, "subject"],
      [{ ...granted, unitId: "42" }, 'Unrecognized key: "unitId"'],
      [{ ...granted, type: "access.maybe" }, "type"],
      [{ ...granted, at: "tonight" }, "at"],
    ];
    const auditRows = () => countAuditEvents(rig.database.db);
    const rowsBefore = await auditRows();
    for (const [body, named] of cases) {
      const answer = await postEvent(body);
      const message = String((answer.json.error as { message?: unknown } | undefined)?.message);
      expect({ body, message }).toEqual({ body, message: expect.stringContaining(named) });
      expect(message).not.toMatch(/CANARY|Lenina|900 000/);
      expectSurfaceError(answer, 400, "INVALID_INPUT");
    }
    expect(await auditRows()).toBe(rowsBefore);
    const logged = JSON.stringify(rig.logs);
    for (const canary of ["CANARY-PLATE", btoa("CANARY-IMAGE"), "CANARY-NAME", "900 000", "Lenina"])
      expect({ canary, logged: logged.includes(canary) }).toEqual({ canary, logged: false });
  });
});
