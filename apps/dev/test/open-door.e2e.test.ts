import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { countAuditEvents, listAuditEvents } from "@propgate/consent-audit";
import { subjectFor } from "@propgate/partner-client";
import { clearRecorders, grant, startTestStack, type TestStack } from "../src/testing/harness.ts";

const stack = await startTestStack();
afterAll(() => stack.close());
beforeEach(() => clearRecorders(stack));

function apiCalls(sim: TestStack["sims"]["intercom"]) {
  return sim.recorder
    .all()
    .filter((record) => !["token", "metadata", "jwks"].includes(record.operation));
}

describe("open a door and a gate end to end", () => {
  test("a resident with consent opens a door: the partner sees a scoped JWT and only a pseudonymous subject", async () => {
    const resident = await stack.resident("user-open-door-1");
    await grant(resident, ["intercom"]);

    const result = await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    expect(result.status).toBe("opened");
    expect(result.eventId).toMatch(/^sim_evt_/);
    expect(new Date(result.at).toISOString()).toBe(result.at);

    const [call] = apiCalls(stack.sims.intercom);
    expect(call?.operation).toBe("intercom.open");
    expect(call?.path).toBe("/v1/intercoms/ic-a1/open");
    expect(call?.status).toBe(200);
    expect(Object.keys(call?.body as object)).toEqual(["subject"]);
    const subject = (call?.body as { subject?: string } | undefined)?.subject;
    expect(subject).not.toContain("user-open-door-1");
    expect(subject).toBe(subjectFor("user-open-door-1", stack.deps.partners.intercom.subjectKey));
    expect(subjectFor("user-open-door-1", stack.deps.partners.barrier.subjectKey)).not.toBe(
      subject,
    );
    expect(call?.tokenClaims?.scope).toBe("intercom.open");
    expect(call?.tokenClaims?.aud).toBe(stack.sims.intercom.audience);
    expect(call?.tokenClaims?.client_id).toBe(stack.env.PARTNER_INTERCOM_CLIENT_ID);
    expect(call?.tokenClaims?.sub).toBe(stack.env.PARTNER_INTERCOM_CLIENT_ID);
    expect(call?.tokenClaims?.iss).toBe(stack.sims.intercom.issuer);
    expect(typeof call?.tokenClaims?.jti).toBe("string");
    expect(Number(call?.tokenClaims?.exp)).toBeGreaterThan(Date.now() / 1000);
  });

  test("a resident with consent opens a gate through the barrier partner", async () => {
    const resident = await stack.resident("user-open-gate-1");
    await grant(resident, ["barrier"]);
    const result = await resident.trpc.barrier.open.mutate({ deviceId: "gate-a" });
    expect(result.status).toBe("opened");
    const [call] = apiCalls(stack.sims.barrier);
    expect(call?.path).toBe("/v1/barriers/bar-a/open");
    expect(call?.tokenClaims?.scope).toBe("barrier.open");
    expect(Object.keys(call?.body as object)).toEqual(["subject"]);
    expect(apiCalls(stack.sims.intercom)).toHaveLength(0);
  });

  test("the same idempotencyKey twice opens once and returns the same event", async () => {
    const resident = await stack.resident("user-idempotent");
    await grant(resident, ["intercom"]);
    const opensBefore = stack.sims.intercom.recorder.opens().length;
    const first = await resident.trpc.intercom.openDoor.mutate({
      deviceId: "door-a1",
      idempotencyKey: "tap-0001-abcdef",
    });
    const second = await resident.trpc.intercom.openDoor.mutate({
      deviceId: "door-a1",
      idempotencyKey: "tap-0001-abcdef",
    });
    expect(second.eventId).toBe(first.eventId);
    expect(stack.sims.intercom.recorder.opens().length - opensBefore).toBe(1);
    const third = await resident.trpc.intercom.openDoor.mutate({
      deviceId: "door-a1",
      idempotencyKey: "tap-0002-abcdef",
    });
    expect(third.eventId).not.toBe(first.eventId);
  });

  test("two residents who pick the same idempotencyKey each get their own open", async () => {
    const alice = await stack.resident("user-key-alice");
    const bob = await stack.resident("user-key-bob");
    await grant(alice, ["intercom"]);
    await grant(bob, ["intercom"]);
    const a = await alice.trpc.intercom.openDoor.mutate({
      deviceId: "door-a1",
      idempotencyKey: "same-key-123",
    });
    const b = await bob.trpc.intercom.openDoor.mutate({
      deviceId: "door-a1",
      idempotencyKey: "same-key-123",
    });
    expect(a.eventId).not.toBe(b.eventId);
  });

  test("devices.list shows only the devices of the resident's sites", async () => {
    const resident = await stack.resident("user-list", ["site-b"]);
    const devices = await resident.trpc.devices.list.query();
    expect(devices.map((device) => device.id).sort()).toEqual(["cam-b1", "door-b1", "gate-b"]);
    expect(devices[0]).toEqual({
      id: expect.any(String),
      kind: expect.any(String),
      name: expect.any(String),
      siteId: "site-b",
    });
  });

  test("every request the partners received has its audit row", async () => {
    const resident = await stack.resident("user-audit-count");
    await grant(resident, ["intercom", "barrier"]);
    const before = await countAuditEvents(stack.database.db, { kind: "partner.request" });
    await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    await resident.trpc.barrier.open.mutate({ deviceId: "gate-a" });
    const after = await countAuditEvents(stack.database.db, { kind: "partner.request" });
    expect(after - before).toBe(
      apiCalls(stack.sims.intercom).length + apiCalls(stack.sims.barrier).length,
    );
    expect(after - before).toBe(2);

    // The answers' rows are queued, not awaited (their own chain's group commit): let them land.
    await stack.deps.auditWriter.flush();
    const rows = await listAuditEvents(stack.database.db, {
      userId: "user-audit-count",
      limit: 50,
    });
    const request = rows.find(
      (row) => row.kind === "partner.request" && row.operation === "intercom.open",
    );
    expect(request).toMatchObject({
      sourceApp: "api",
      target: "door-a1",
      partner: "intercom",
      userId: "user-audit-count",
    });
    expect(request?.requestId).toMatch(/^req_/);
    expect(request?.clientIp).toBe("127.0.0.1");
    const response = rows.find(
      (row) => row.kind === "partner.response" && row.callId === request?.callId,
    );
    expect(response?.result).toBe("success");
    expect(typeof response?.latencyMs).toBe("number");
  });
});
