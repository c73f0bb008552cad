import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { OpenResponse } from "@propgate/partner-client/contract";
import type { PartnerSim } from "../src/index.ts";
import { DOOR_APP, GATE_ONLY, getToken, openDoor, startTestSim, subjectOf } from "./helpers.ts";

let sim: PartnerSim;
let token: string;
beforeAll(async () => {
  sim = await startTestSim();
  token = await getToken(sim, DOOR_APP);
});
beforeEach(() => sim.recorder.clear());
afterAll(() => sim.stop());

const subject = subjectOf("resident-1");
const DOOR = "/v1/intercoms/door-1/open";

describe("Idempotency-Key", () => {
  test("a replay gets the same stored answer and does not open twice", async () => {
    const headers = { "idempotency-key": "key-replay-0001" };
    const first = await openDoor(sim, token, DOOR, { subject }, headers);
    const second = await openDoor(sim, token, DOOR, { subject }, headers);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    const a = OpenResponse.parse(await first.json());
    const b = OpenResponse.parse(await second.json());
    expect(b).toEqual(a);

    expect(sim.recorder.opens()).toHaveLength(1);
    const received = sim.recorder.all({ operation: "intercom.open" });
    expect(received).toHaveLength(2);
    expect(received[0]).toMatchObject({ opened: true, idempotencyKey: "key-replay-0001" });
    expect(received[0]?.replayed).toBeUndefined();
    expect(received[1]).toMatchObject({ replayed: true, eventId: a.eventId, status: 200 });
    expect(received[1]?.opened).toBeUndefined();
  });

  test("the same key with another body is 422 idempotency_key_reused", async () => {
    const headers = { "idempotency-key": "key-reused-0001" };
    expect((await openDoor(sim, token, DOOR, { subject }, headers)).status).toBe(200);
    const other = { subject: subjectOf("resident-2") };
    const response = await openDoor(sim, token, DOOR, other, headers);
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ error: "idempotency_key_reused" });
    expect(sim.recorder.opens()).toHaveLength(1);
  });

  test("keys are per client and per path", async () => {
    const headers = { "idempotency-key": "key-scoped-0001" };
    const door1 = OpenResponse.parse(
      await (await openDoor(sim, token, DOOR, { subject }, headers)).json(),
    );
    const door2 = await openDoor(sim, token, "/v1/intercoms/door-2/open", { subject }, headers);
    expect(door2.status).toBe(200);
    expect(OpenResponse.parse(await door2.json()).eventId).not.toBe(door1.eventId);

    const gateToken = await getToken(sim, GATE_ONLY);
    const gate = await openDoor(sim, gateToken, "/v1/barriers/gate-1/open", { subject }, headers);
    const mine = await openDoor(sim, token, "/v1/barriers/gate-1/open", { subject }, headers);
    expect(gate.status).toBe(200);
    expect(mine.status).toBe(200);
    expect(sim.recorder.opens()).toHaveLength(4);
  });

  test("20 concurrent requests with one key open once and all get the same answer", async () => {
    const headers = { "idempotency-key": "key-concurrent-01" };
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => openDoor(sim, token, DOOR, { subject }, headers)),
    );
    const bodies = await Promise.all(
      responses.map(async (response) => {
        expect(response.status).toBe(200);
        return OpenResponse.parse(await response.json());
      }),
    );
    expect(new Set(bodies.map((body) => body.eventId)).size).toBe(1);
    expect(sim.recorder.opens()).toHaveLength(1);
    expect(sim.recorder.count({ operation: "intercom.open", replayed: true })).toBe(19);
  });

  test("a malformed key is 400 and opens nothing", async () => {
    const response = await openDoor(sim, token, DOOR, { subject }, { "idempotency-key": "short" });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_request" });
    expect(sim.recorder.opens()).toHaveLength(0);
  });

  test("without a key every request opens", async () => {
    await openDoor(sim, token, DOOR, { subject });
    await openDoor(sim, token, DOOR, { subject });
    expect(sim.recorder.opens()).toHaveLength(2);
  });
});
