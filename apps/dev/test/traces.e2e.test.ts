import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { auditEvents } from "@propgate/consent-audit/schema";
import { eq } from "drizzle-orm";
import { grant, startTestStack } from "../src/testing/harness.ts";
import { type ReceivedSpan, startOtlpReceiver } from "../src/testing/otlp-receiver.ts";

// The whole stack with tracing on, exporting to a collector of the test's own (OTLP/HTTP JSON).
const receiver = startOtlpReceiver();
const stack = await startTestStack({
  env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: "propgate-api-test" },
});
afterAll(async () => {
  await stack.close();
  await receiver.stop();
});
beforeEach(() => stack.sims.intercom.faults.reset());

const hex = (bytes: number) =>
  Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");

/** A mobile app's call: a tRPC mutation over plain HTTP, in the app's own trace. */
async function openDoor(token: string, deviceId: string, traceparent?: string) {
  const response = await fetch(`${stack.api.url}/trpc/intercom.openDoor`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      ...(traceparent ? { traceparent, tracestate: "app=mobile" } : {}),
    },
    body: JSON.stringify({ deviceId }),
  });
  const body = (await response.json()) as {
    result?: unknown;
    error?: { data: { requestId: string; cause?: { code: string } } };
  };
  return { status: response.status, requestId: response.headers.get("x-request-id"), body };
}

/** A client span of the app's: what its `traceparent` names as the parent. */
function clientSpan() {
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

const named = (spans: ReceivedSpan[], name: string) => spans.filter((span) => span.name === name);
const one = (spans: ReceivedSpan[], name: string): ReceivedSpan => {
  const found = named(spans, name);
  expect(found.map((span) => span.name)).toEqual([name]);
  return found[0] as ReceivedSpan;
};
const hasServerSpanEnded = (spans: ReceivedSpan[]) => spans.some((span) => span.kind === "server");

describe("a door open, traced from the app through the partner call", () => {
  test("one trace: the server span, then token, consent, subject and the attempt with its audit commit; the partner, the log line and the audit row carry the trace id", async () => {
    const resident = await stack.resident("user-trace-open");
    await grant(resident, ["intercom"]);
    const app = clientSpan();
    const answer = await openDoor(resident.token, "door-a1", app.traceparent);
    expect(answer.status).toBe(200);

    await stack.deps.tracing.flush();
    const spans = await receiver.trace(app.traceId, hasServerSpanEnded);
    expect(receiver.refused).toBe(0);

    // The server span: named by the procedure, the child of the app's span.
    const server = one(spans, "trpc intercom.openDoor");
    expect(server).toMatchObject({
      kind: "server",
      parentSpanId: app.spanId,
      service: "propgate-api-test",
    });
    expect(server.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/trpc/intercom.openDoor",
      "http.response.status_code": 200,
      "rpc.method": "intercom.openDoor",
      "propgate.request_id": answer.requestId,
    });

    // Its children, in the order the request meets them.
    for (const name of ["auth.token", "consent.check", "subject.lookup"]) {
      expect(one(spans, name).parentSpanId).toBe(server.spanId);
    }
    expect(one(spans, "consent.check").attributes).toMatchObject({
      "propgate.purpose": "intercom",
      "propgate.granted": true,
    });
    const attempt = one(spans, "partner intercom.open");
    expect(attempt).toMatchObject({ kind: "client", parentSpanId: server.spanId });
    expect(attempt.attributes).toMatchObject({
      "propgate.partner": "intercom",
      "propgate.operation": "intercom.open",
      "propgate.attempt": 1,
      "propgate.outcome": "success",
      "http.response.status_code": 200,
      "url.template": "/v1/intercoms/{deviceId}/open",
    });
    // The wait for the attempt's audit row is inside the attempt, before the request left.
    const commit = one(spans, "audit.commit");
    expect(commit.parentSpanId).toBe(attempt.spanId);

    // The partner received the trace: its parent is our attempt span.
    const received = await stack.sims.intercom.recorder.waitFor(
      (record) =>
        record.operation === "intercom.open" &&
        record.subject !== undefined &&
        record.traceparent?.includes(app.traceId) === true,
    );
    expect(received.traceparent).toBe(`00-${app.traceId}-${attempt.spanId}-01`);

    // The request's log line and its audit rows name the trace.
    const line = stack.logs.find((l) => l.msg === "request" && l.requestId === answer.requestId);
    expect(line?.traceId).toBe(app.traceId);
    const rows = await stack.database.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.requestId, String(answer.requestId)));
    const request = rows.find((row) => row.kind === "partner.request");
    expect(request).toMatchObject({ traceId: app.traceId, target: "door-a1", attempt: 1 });
  });

  test("a retried attempt is two attempt spans, the first with the partner's 503", async () => {
    const resident = await stack.resident("user-trace-retry");
    await grant(resident, ["intercom"]);
    stack.sims.intercom.faults.set({ failNext: 1, errorStatus: 503 });
    const app = clientSpan();
    expect((await openDoor(resident.token, "door-a1", app.traceparent)).status).toBe(200);

    await stack.deps.tracing.flush();
    const spans = await receiver.trace(app.traceId, hasServerSpanEnded);
    const server = one(spans, "trpc intercom.openDoor");
    const attempts = named(spans, "partner intercom.open").sort(
      (a, b) => Number(a.attributes["propgate.attempt"]) - Number(b.attributes["propgate.attempt"]),
    );
    expect(attempts.map((span) => span.attributes)).toMatchObject([
      {
        "propgate.attempt": 1,
        "propgate.outcome": "unavailable",
        "http.response.status_code": 503,
      },
      { "propgate.attempt": 2, "propgate.outcome": "success", "http.response.status_code": 200 },
    ]);
    expect(attempts.map((span) => span.status)).toEqual([2, 0]);
    for (const span of attempts) expect(span.parentSpanId).toBe(server.spanId);
    // Each attempt waited for its own audit row.
    const commits = named(spans, "audit.commit");
    expect(commits.map((span) => span.parentSpanId).sort()).toEqual(
      attempts.map((span) => span.spanId).sort(),
    );
    // The partner saw each attempt as a child of its own span.
    const sent = stack.sims.intercom.recorder
      .all((record) => record.traceparent?.includes(app.traceId) === true)
      .map((record) => record.traceparent);
    expect(sent).toEqual(attempts.map((span) => `00-${app.traceId}-${span.spanId}-01`));
  });

  test("a refusal (no consent) ends the trace without a partner span", async () => {
    const resident = await stack.resident("user-trace-refused");
    const app = clientSpan();
    const answer = await openDoor(resident.token, "door-a1", app.traceparent);
    expect(answer.status).toBe(403);
    expect(answer.body.error?.data.cause?.code).toBe("CONSENT_REQUIRED");

    await stack.deps.tracing.flush();
    const spans = await receiver.trace(app.traceId, hasServerSpanEnded);
    const server = one(spans, "trpc intercom.openDoor");
    expect(server.attributes).toMatchObject({
      "http.response.status_code": 403,
      "propgate.cause_code": "CONSENT_REQUIRED",
    });
    const consent = one(spans, "consent.check");
    expect(consent).toMatchObject({ parentSpanId: server.spanId, status: 2 });
    expect(consent.attributes).toMatchObject({
      "propgate.granted": false,
      "error.type": "CONSENT_REQUIRED",
    });
    expect(
      spans.filter((span) => span.name.startsWith("partner") || span.name === "audit.commit"),
    ).toEqual([]);
    expect(
      stack.sims.intercom.recorder.count(
        (record) => record.traceparent?.includes(app.traceId) === true,
      ),
    ).toBe(0);
    // The refusal's audit row names the trace too.
    const rows = await stack.database.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.requestId, String(answer.requestId)));
    expect(rows.map((row) => [row.kind, row.traceId])).toEqual([["access.denied", app.traceId]]);
  });

  test("without a traceparent a request starts its own trace; an unknown procedure is `trpc other`, never its path", async () => {
    const resident = await stack.resident("user-trace-root");
    await grant(resident, ["intercom"]);
    const answer = await openDoor(resident.token, "door-a1");
    expect(answer.status).toBe(200);
    const line = stack.logs.find((l) => l.msg === "request" && l.requestId === answer.requestId);
    const traceId = String(line?.traceId);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    await stack.deps.tracing.flush();
    const spans = await receiver.trace(traceId, hasServerSpanEnded);
    expect(one(spans, "trpc intercom.openDoor").parentSpanId).toBeNull();

    const app = clientSpan();
    const unknown = await fetch(`${stack.api.url}/trpc/door-a1.user-trace-root`, {
      headers: { traceparent: app.traceparent },
    });
    expect(unknown.status).toBe(404);
    await stack.deps.tracing.flush();
    const [other] = await receiver.trace(app.traceId, hasServerSpanEnded);
    expect(other?.name).toBe("trpc other");
    expect(JSON.stringify(other)).not.toContain("user-trace-root");
  });

  test("a malformed traceparent is ignored: a trace of our own, the request served", async () => {
    const resident = await stack.resident("user-trace-bad-header");
    await grant(resident, ["intercom"]);
    const answer = await openDoor(resident.token, "door-a1", "00-not-a-trace-01");
    expect(answer.status).toBe(200);
    const line = stack.logs.find((l) => l.msg === "request" && l.requestId === answer.requestId);
    expect(String(line?.traceId)).toMatch(/^[0-9a-f]{32}$/);
  });
});
