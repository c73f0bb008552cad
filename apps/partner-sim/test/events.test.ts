import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PartnerEvent } from "@propgate/domain";
import type { PartnerSim } from "../src/index.ts";
import { startTestSim, subjectOf } from "./helpers.ts";

/**
 * The sim as a reporting partner: its admin API makes it post events to Propgate's partner
 * surface. Propgate is played here by a small surface that checks the token and reads each
 * body with the contract's strict `PartnerEvent`, as the real one does.
 */
const SECRET = `sim-events-${crypto.randomUUID()}`;
const received: unknown[] = [];
let tokensIssued = 0;
let surface: ReturnType<typeof Bun.serve>;
let sim: PartnerSim;

beforeAll(async () => {
  surface = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/oauth/token") {
        if (request.headers.get("authorization") !== `Basic ${btoa(`ic-sim:${SECRET}`)}`)
          return Response.json({ error: "invalid_client" }, { status: 401 });
        tokensIssued++;
        return Response.json({ access_token: "tok-1", token_type: "Bearer", expires_in: 300 });
      }
      if (
        path === "/partner/v1/events" &&
        request.headers.get("authorization") === "Bearer tok-1"
      ) {
        const body = await request.json();
        if (!PartnerEvent.safeParse(body).success)
          return Response.json({ error: { code: "INVALID_INPUT" } }, { status: 400 });
        received.push(body);
        return Response.json(
          { status: "accepted", eventId: `evt_${received.length}` },
          { status: 202 },
        );
      }
      return new Response(null, { status: 404 });
    },
  });
  sim = await startTestSim({ cameras: ["cam-1"] });
});
afterAll(async () => {
  await sim?.stop();
  await surface?.stop(true);
});

async function admin(method: string, path: string, body: unknown) {
  const answer = await fetch(`${sim.adminUrl}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await answer.text();
  return { status: answer.status, json: text ? JSON.parse(text) : null };
}

describe("the sim posts events to Propgate", () => {
  test("before it is pointed at Propgate it sends nothing and says why", async () => {
    const answer = await admin("POST", "/admin/calls", { deviceId: "door-1", unitId: "42" });
    expect(answer.status).toBe(400);
    expect(answer.json.message).toContain("PUT /admin/propgate");
    expect(received).toEqual([]);
  });

  test("ring unit 42 at a panel, end the call, grant and deny access: each posted in the contract's shape", async () => {
    const connect = await admin("PUT", "/admin/propgate", {
      surfaceUrl: `http://127.0.0.1:${surface.port}`,
      clientId: "ic-sim",
      clientSecret: SECRET,
    });
    expect(connect.status).toBe(204);

    const ring = await admin("POST", "/admin/calls", {
      deviceId: "door-1",
      unitId: "42",
      cameraId: "cam-1",
    });
    expect(ring).toMatchObject({
      status: 200,
      json: { status: 202, answer: { status: "accepted" } },
    });
    const callEventId = ring.json.event.eventId as string;
    expect(received.at(-1)).toEqual({
      type: "call.incoming",
      eventId: callEventId,
      deviceId: "door-1",
      unitId: "42",
      cameraId: "cam-1",
      at: expect.any(String),
    });

    const ended = await admin("POST", `/admin/calls/${callEventId}/end`, { outcome: "missed" });
    expect(ended.json.status).toBe(202);
    expect(received.at(-1)).toMatchObject({
      type: "call.ended",
      deviceId: "door-1",
      unitId: "42",
      outcome: "missed",
      durationSeconds: expect.any(Number),
      callEventId,
    });
    // the call is over: ending it again sends nothing
    const again = await admin("POST", `/admin/calls/${callEventId}/end`, { outcome: "missed" });
    expect(again.status).toBe(400);

    const subject = subjectOf("resident-1");
    const granted = await admin("POST", "/admin/events", {
      type: "access.granted",
      deviceId: "gate-1",
      method: "plate",
      subject,
    });
    expect(granted.json.status).toBe(202);
    expect(received.at(-1)).toMatchObject({ type: "access.granted", method: "plate", subject });
    const denied = await admin("POST", "/admin/events", {
      type: "access.denied",
      eventId: "deny-1",
      deviceId: "door-2",
      method: "code",
      at: "2026-12-07T22:40:03+03:00",
    });
    expect(denied.json.status).toBe(202);
    expect(received.at(-1)).toEqual({
      type: "access.denied",
      eventId: "deny-1",
      deviceId: "door-2",
      method: "code",
      at: "2026-12-07T22:40:03+03:00",
    });
    expect(tokensIssued).toBe(1); // one token, reused
  });

  test("it is a strict partner: no field outside the contract, no device it does not have", async () => {
    const before = received.length;
    for (const [body, status] of [
      [{ type: "access.granted", deviceId: "gate-1", method: "plate", plate: "A000BC799" }, 400],
      [{ type: "access.granted", deviceId: "gate-1", method: "palm" }, 400],
      [{ type: "call.incoming", deviceId: "door-9", unitId: "42" }, 400],
      [{ type: "call.incoming", deviceId: "door-1", unitId: "42", cameraId: "cam-9" }, 400],
    ] as const) {
      const answer = await admin("POST", "/admin/events", body);
      expect({ body, status: answer.status }).toEqual({ body, status });
    }
    expect(received.length).toBe(before);
  });
});
