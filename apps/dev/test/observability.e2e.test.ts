import { afterAll, describe, expect, test } from "bun:test";
import { createTestDatabase } from "@propgate/consent-audit/testing";
import { createApp } from "@propgate/server";
import { serverTimingSpans } from "../bench/breakdown.ts";
import { errorOf, grant, startTestStack } from "../src/testing/harness.ts";

const stack = await startTestStack();
afterAll(() => stack.close());

describe("request logs", () => {
  test("one JSON line per request, with the request id the caller sees", async () => {
    const response = await fetch(`${stack.api.url}/healthz`, {
      headers: { "x-request-id": "probe-0001-abc" },
    });
    expect(response.headers.get("x-request-id")).toBe("probe-0001-abc");
    const lines = stack.logs.filter(
      (line) => line.msg === "request" && line.requestId === "probe-0001-abc",
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      method: "GET",
      path: "/healthz",
      status: 200,
      ip: "127.0.0.1",
    });
  });

  test("an error's request id is in the body, the header and the log line", async () => {
    const resident = await stack.resident("user-log-error");
    const error = await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    const requestId = error.data.requestId;
    expect(requestId).toMatch(/^req_/);
    expect(stack.logs.some((line) => line.requestId === requestId && line.status === 403)).toBe(
      true,
    );
  });

  test("tokens, secrets and authorization headers never appear in any log line", async () => {
    const resident = await stack.resident("user-log-hygiene");
    await grant(resident, ["intercom", "barrier"]);
    await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    await resident.trpc.barrier.open.mutate({ deviceId: "gate-a" });
    stack.sims.intercom.faults.set({ rejectTokensNext: 1 });
    await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    stack.sims.intercom.faults.reset();
    await errorOf(stack.client("garbage.token.value").devices.list.query());

    const text = stack.logs.map((line) => JSON.stringify(line)).join("\n");
    expect(stack.logs.length).toBeGreaterThan(5);
    const secrets = [
      resident.token,
      stack.env.PARTNER_INTERCOM_CLIENT_SECRET,
      stack.env.PARTNER_BARRIER_CLIENT_SECRET,
      stack.env.PARTNER_INTERCOM_SUBJECT_KEY,
      "garbage.token.value",
    ];
    for (const secret of secrets) expect(text).not.toContain(String(secret));
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // no JWT of any kind
    expect(text.toLowerCase()).not.toContain("bearer");
    expect(text).not.toContain("user-log-hygiene-subject");
  });
});

describe("health, readiness, metrics", () => {
  test("/healthz and /readyz answer on a migrated database", async () => {
    expect(await (await fetch(`${stack.api.url}/healthz`)).json()).toEqual({ status: "ok" });
    expect(await (await fetch(`${stack.api.url}/readyz`)).json()).toEqual({ status: "ready" });
  });

  test("/readyz is 503 while migrations are not applied", async () => {
    const empty = await createTestDatabase({ migrate: false });
    try {
      const app = createApp({ ...stack.deps, database: empty });
      const response = await app.request("/readyz");
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        status: "not_ready",
        reason: "migrations not applied (no drizzle.__drizzle_migrations table)",
      });
    } finally {
      await empty.close();
    }
  });

  test("/metrics counts partner calls by outcome", async () => {
    const text = await (await fetch(`${stack.metrics?.url}/metrics`)).text();
    expect(text).toMatch(
      /propgate_partner_requests_total\{partner="intercom",operation="intercom.open",outcome="success",app="api"\} \d+/,
    );
    expect(text).toContain("propgate_token_refresh_total");
    expect(text).toContain('propgate_access_denied_total{reason="consent_required",app="api"}');
  });

  test("/metrics is on its own listener, not the residents' port; random paths add no series", async () => {
    expect(stack.metrics?.url).toBeString();
    expect(stack.metrics?.url).not.toBe(stack.api.url);
    expect((await fetch(`${stack.api.url}/metrics`)).status).toBe(404);
    const scrape = async () =>
      (await (await fetch(`${stack.metrics?.url}/metrics`)).text()).split("\n");
    const series = (lines: string[]) =>
      new Set(
        lines
          .filter((line) => line.startsWith("propgate_http_request"))
          .map((line) => line.split(" ")[0] ?? ""),
      );
    const resident = await stack.resident("user-metric-noise");
    // Warm every label these requests can produce, then count the series.
    const noise = async (round: number) => {
      const paths = [
        `/trpc/x${round}`,
        `/trpc/devices.list.${round}`,
        `/x/${round}`,
        `/trpc/${"a".repeat(round + 1)}`,
      ];
      for (const path of paths) {
        await fetch(`${stack.api.url}${path}`, {
          headers: { authorization: `Bearer ${resident.token}` },
        });
        await fetch(`${stack.api.url}${path}`, { method: "POST", body: "{}" });
      }
    };
    await noise(0);
    await resident.trpc.devices.list.query();
    const before = series(await scrape());
    for (let round = 1; round <= 20; round++) await noise(round);
    const after = series(await scrape());
    expect([...after].filter((name) => !before.has(name))).toEqual([]);
    expect([...after].some((name) => name.includes('route="/trpc/devices.list"'))).toBe(true);
    expect([...after].some((name) => name.includes('route="/trpc/other"'))).toBe(true);
    expect([...after].some((name) => name.includes("x1"))).toBe(false);
  });

  test("unknown routes get the one error shape", async () => {
    const response = await fetch(`${stack.api.url}/nope`);
    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe("NOT_FOUND");
    expect(body.error.requestId).toBe(response.headers.get("x-request-id") ?? "");
  });
});

describe("Server-Timing (outside production)", () => {
  async function openDoor(token: string) {
    return fetch(`${stack.api.url}/trpc/intercom.openDoor`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ deviceId: "door-a1" }),
    });
  }

  test("a door open says where its time went: the partner's part, the audit commit, the gateway's", async () => {
    const resident = await stack.resident("user-server-timing");
    await grant(resident, ["intercom"]);
    stack.sims.intercom.faults.set({ latencyMs: 120 });
    let response: Response;
    try {
      response = await openDoor(resident.token);
    } finally {
      stack.sims.intercom.faults.reset();
    }
    expect(response.status).toBe(200);
    const timing = serverTimingSpans(response.headers.get("server-timing"));
    expect(Object.keys(timing)).toEqual(["gateway", "audit", "partner", "total"]);
    // The partner held its answer 120 ms: that is the partner's span, not the gateway's.
    expect(timing.partner).toBeGreaterThanOrEqual(120);
    expect(timing.audit).toBeGreaterThan(0);
    expect(timing.gateway).toBeLessThan((timing.total ?? 0) - 120);
    const sum = (timing.gateway ?? 0) + (timing.audit ?? 0) + (timing.partner ?? 0);
    expect(Math.abs(sum - (timing.total ?? 0))).toBeLessThan(0.01);
  });

  test("a refusal before any partner request has no partner or audit time", async () => {
    const resident = await stack.resident("user-server-timing-refused"); // no consent
    const response = await openDoor(resident.token);
    expect(response.status).toBe(403);
    const timing = serverTimingSpans(response.headers.get("server-timing"));
    expect(timing).toMatchObject({ audit: 0, partner: 0 });
    expect(timing.total).toBeGreaterThan(0);
  });

  test("an app built without it (production) sends no Server-Timing", async () => {
    const resident = await stack.resident("user-server-timing-off");
    await grant(resident, ["intercom"]);
    const app = createApp(stack.deps);
    const response = await app.request("/trpc/intercom.openDoor", {
      method: "POST",
      headers: { authorization: `Bearer ${resident.token}`, "content-type": "application/json" },
      body: JSON.stringify({ deviceId: "door-a1" }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("server-timing")).toBeNull();
    expect((await openDoor(resident.token)).headers.get("server-timing")).toContain("total;dur=");
  });
});
