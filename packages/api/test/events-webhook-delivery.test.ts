import { afterAll, describe, expect, test } from "bun:test";
import { createTracing } from "@propgate/observability";
import { Webhook } from "standardwebhooks";
import { createWebhookDelivery } from "../src/events-webhook/deliver.ts";
import { startWebhookReceiver, testWebhookSecret } from "./fixtures/webhook-receiver.ts";

/** One delivery over a real listener, checked by the `standardwebhooks` library's verify. */
const secret = testWebhookSecret();
const receiver = startWebhookReceiver(secret);
afterAll(() => receiver.stop());
const deliver = createWebhookDelivery({ url: receiver.url, secret, timeoutMs: 2000 });

const payload = {
  type: "call.incoming",
  timestamp: "2026-12-07T10:00:00.000Z",
  data: {
    id: "jrn_01",
    userId: "user-42",
    deviceId: "dev_panel",
    cameraId: "dev_camera",
    unitId: "unit_42",
    method: null,
    outcome: null,
    durationSeconds: null,
  },
};

describe("a webhook delivery", () => {
  test("carries the W3C traceparent of its span when traced, none when not", async () => {
    // A collector that takes anything: what is checked is the header tenant-core receives.
    const collector = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({}) });
    const tracing = await createTracing({
      endpoint: new URL(`http://127.0.0.1:${collector.port}/v1/traces`),
      serviceName: "api-test",
      sampler: "always_on",
      samplerRatio: 1,
      resourceAttributes: {},
    });
    try {
      const traced = createWebhookDelivery({ url: receiver.url, secret, timeoutMs: 2000 }, tracing);
      expect(await traced({ id: "msg_traced", eventType: "call.incoming", payload })).toEqual({
        delivered: true,
      });
      const [got] = receiver.received.slice(-1);
      expect(got?.headers["webhook-id"]).toBe("msg_traced");
      expect(got?.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(got?.verified).toBe(true);
      await deliver({ id: "msg_untraced", eventType: "call.incoming", payload });
      expect(receiver.received.slice(-1)[0]?.headers.traceparent).toBeUndefined();
    } finally {
      await tracing.shutdown();
      await collector.stop(true);
    }
  });

  test("is signed so the library verifies it: webhook-id, timestamp, signature, ids only", async () => {
    const outcome = await deliver({ id: "msg_one", eventType: "call.incoming", payload });
    expect(outcome).toEqual({ delivered: true });
    const [got] = receiver.received.slice(-1);
    expect(got?.verified).toBe(true);
    expect(got?.headers["content-type"]).toBe("application/json");
    expect(got?.headers["webhook-id"]).toBe("msg_one");
    expect(Math.abs(Number(got?.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(5);
    expect(got?.body).toEqual({
      type: "call.incoming",
      timestamp: "2026-12-07T10:00:00.000Z",
      data: {
        id: "jrn_01",
        userId: "user-42",
        deviceId: "dev_panel",
        cameraId: "dev_camera",
        unitId: "unit_42",
      },
    });
  });

  test("a tampered signature, body or id is what the library rejects", () => {
    const [got] = receiver.received.slice(-1);
    if (!got) throw new Error("no delivery recorded");
    const verifier = new Webhook(secret);
    expect(() => verifier.verify(got.raw, got.headers)).not.toThrow();
    const signature = got.headers["webhook-signature"] ?? "";
    const flipped = `${signature.slice(0, -2)}${signature.endsWith("A=") ? "B=" : "A="}`;
    expect(() =>
      verifier.verify(got.raw, { ...got.headers, "webhook-signature": flipped }),
    ).toThrow("No matching signature found");
    expect(() => verifier.verify(got.raw.replace("user-42", "user-43"), got.headers)).toThrow(
      "No matching signature found",
    );
    expect(() => verifier.verify(got.raw, { ...got.headers, "webhook-id": "msg_two" })).toThrow(
      "No matching signature found",
    );
    expect(() => new Webhook(testWebhookSecret()).verify(got.raw, got.headers)).toThrow(
      "No matching signature found",
    );
  });

  test("sends only the allowed ids: a plate, a name or an image in the payload is dropped", async () => {
    const leaky = {
      ...payload,
      plate: "А123ВС77",
      data: { ...payload.data, plate: "А123ВС77", name: "Ivan", image: "data:image/png;base64,AA" },
    };
    expect(await deliver({ id: "msg_leaky", eventType: "access.granted", payload: leaky })).toEqual(
      {
        delivered: true,
      },
    );
    const [got] = receiver.received.slice(-1);
    expect(got?.verified).toBe(true);
    for (const secretText of ["А123ВС77", "Ivan", "image"])
      expect(got?.raw).not.toContain(secretText);
    expect(got?.body?.type).toBe("access.granted");
  });

  test("a payload that does not parse is not sent: bad_payload", async () => {
    const before = receiver.received.length;
    expect(
      await deliver({ id: "msg_bad", eventType: "call.incoming", payload: { data: 1 } }),
    ).toEqual({
      delivered: false,
      code: "bad_payload",
    });
    expect(receiver.received.length).toBe(before);
  });

  test("any non-2xx is a failure kept as its status code, never the receiver's text", async () => {
    for (const status of [503, 400, 410, 302]) {
      receiver.answer(() => status);
      expect(await deliver({ id: `msg_${status}`, eventType: "call.ended", payload })).toEqual({
        delivered: false,
        code: `http_${status}`,
      });
    }
    receiver.answer(() => 204);
  });

  test("a receiver that does not answer in time is `timeout`; one not listening is `network`", async () => {
    const silent = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Promise<Response>(() => {}),
    });
    const slow = createWebhookDelivery({
      url: new URL(`http://127.0.0.1:${silent.port}/`),
      secret,
      timeoutMs: 200,
    });
    expect(await slow({ id: "msg_slow", eventType: "call.incoming", payload })).toEqual({
      delivered: false,
      code: "timeout",
    });
    const port = silent.port;
    await silent.stop(true);
    const gone = createWebhookDelivery({
      url: new URL(`http://127.0.0.1:${port}/`),
      secret,
      timeoutMs: 2000,
    });
    expect(await gone({ id: "msg_gone", eventType: "call.incoming", payload })).toEqual({
      delivered: false,
      code: "network",
    });
  });
});
