import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { HealthResponse, OpenResponse } from "@propgate/partner-client/contract";
import { decodeJwt } from "jose";
import type { PartnerSim, RecordedRequest } from "../src/index.ts";
import {
  basicAuth,
  DOOR_APP,
  getToken,
  openDoor,
  putFaults,
  startTestSim,
  subjectOf,
  tokenRequest,
} from "./helpers.ts";

let sim: PartnerSim;
let token: string;
beforeAll(async () => {
  sim = await startTestSim();
  token = await getToken(sim, DOOR_APP);
});
beforeEach(async () => {
  await fetch(`${sim.adminUrl}/admin/faults/reset`, { method: "POST" });
  await fetch(`${sim.adminUrl}/admin/requests`, { method: "DELETE" });
});
afterAll(() => sim.stop());

const subject = subjectOf("resident-1");
const DOOR = "/v1/intercoms/door-1/open";
const open = (signal?: AbortSignal) => openDoor(sim, token, DOOR, { subject }, {}, signal);

async function expectFaultsSet(patch: unknown) {
  const response = await putFaults(sim, patch);
  expect(response.status).toBe(200);
  return response.json();
}

describe("admin API", () => {
  test("GET shows the defaults; PUT is a partial update; reset restores", async () => {
    const defaults = await (await fetch(`${sim.adminUrl}/admin/faults`)).json();
    expect(defaults).toEqual({
      latencyMs: 0,
      tokenLatencyMs: 0,
      errorRate: 0,
      errorStatus: 503,
      errorCode: null,
      rejectTokensNext: 0,
      retryAfterSeconds: null,
      failNext: 0,
      keysNotStored: false,
      responseMode: "normal",
      tokenEndpointDown: false,
      tokenLifetimeSeconds: 300,
      videoSessionTtlSeconds: 300,
      failErasures: 0,
      dialect: "propgate",
      erasureAnswer: null,
      erasureCompletesAfterMs: 0,
      erasureNeverCompletes: false,
      acceptAnyScope: false,
      metadataAt: "rfc8414",
    });
    expect(await expectFaultsSet({ latencyMs: 5 })).toMatchObject({
      latencyMs: 5,
      errorStatus: 503,
    });
    expect(await expectFaultsSet({ errorStatus: 502 })).toMatchObject({
      latencyMs: 5,
      errorStatus: 502,
    });
    const reset = await fetch(`${sim.adminUrl}/admin/faults/reset`, { method: "POST" });
    expect(await reset.json()).toEqual(defaults);
  });

  test("bad input is 400 with a message naming the problem, and changes nothing", async () => {
    const cases: [unknown, string][] = [
      [{ explode: true }, "explode"],
      [{ errorRate: 2 }, "errorRate"],
      [{ errorStatus: 418 }, "errorStatus"],
      [{ errorCode: "" }, "errorCode"],
      [{ responseMode: "explode" }, "responseMode"],
      [{ failNext: -1 }, "failNext"],
      [{ latencyMs: 1, failNext: 1.5 }, "failNext"],
      [[1], "body"],
    ];
    for (const [patch, named] of cases) {
      const response = await putFaults(sim, patch);
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error).toBe("invalid_request");
      expect(body.message).toContain(named);
    }
    const notJson = await fetch(`${sim.adminUrl}/admin/faults`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: "{latency",
    });
    expect(notJson.status).toBe(400);
    expect(sim.faults.get()).toMatchObject({ latencyMs: 0, failNext: 0, responseMode: "normal" });
    expect(() => sim.faults.set({ errorRate: 3 })).toThrow();

    const badQuery = await fetch(`${sim.adminUrl}/admin/requests?operation=everything`);
    expect(badQuery.status).toBe(400);
  });

  test("lists and clears recorded requests", async () => {
    await open();
    await fetch(`${sim.url}/v1/health`, { headers: { authorization: `Bearer ${token}` } });
    const all = await (await fetch(`${sim.adminUrl}/admin/requests`)).json();
    expect(all).toMatchObject({ opens: 1 });
    const opens = (await (
      await fetch(`${sim.adminUrl}/admin/requests?operation=intercom.open`)
    ).json()) as { requests: RecordedRequest[] };
    expect(opens.requests.map((r) => r.operation)).toEqual(["intercom.open"]);
    const cleared = await fetch(`${sim.adminUrl}/admin/requests`, { method: "DELETE" });
    expect(cleared.status).toBe(204);
    expect(sim.recorder.count()).toBe(0);
  });

  test("the admin API is not served on the partner listener", async () => {
    const response = await fetch(`${sim.url}/admin/faults`);
    expect(response.status).toBe(404);
  });
});

describe("faults", () => {
  test("latencyMs delays API calls, not token requests", async () => {
    await expectFaultsSet({ latencyMs: 250 });
    const started = performance.now();
    expect((await open()).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);

    const tokenStarted = performance.now();
    await getToken(sim, DOOR_APP);
    expect(performance.now() - tokenStarted).toBeLessThan(240);
  });

  test("failNext with 429 and Retry-After fails exactly the next N calls", async () => {
    await expectFaultsSet({ failNext: 2, errorStatus: 429, retryAfterSeconds: 7 });
    for (let i = 0; i < 2; i++) {
      const response = await open();
      expect(response.status).toBe(429);
      expect(response.headers.get("retry-after")).toBe("7");
      expect(await response.json()).toMatchObject({ error: "rate_limited" });
    }
    expect((await open()).status).toBe(200);
    expect(sim.faults.get().failNext).toBe(0);
    expect(sim.recorder.count({ fault: "failNext", status: 429 })).toBe(2);
    expect(sim.recorder.opens()).toHaveLength(1);
  });

  test("errorRate 1 with the default 503", async () => {
    await expectFaultsSet({ errorRate: 1 });
    const response = await open();
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBeNull();
    expect(await response.json()).toMatchObject({ error: "unavailable" });
    await expectFaultsSet({ retryAfterSeconds: 2 });
    expect((await open()).headers.get("retry-after")).toBe("2");
    expect(sim.recorder.opens()).toHaveLength(0);
    // The token endpoint is not part of the API's error rate.
    await getToken(sim, DOOR_APP);
  });

  test("500 and 502 carry no Retry-After", async () => {
    for (const errorStatus of [500, 502]) {
      await expectFaultsSet({ failNext: 1, errorStatus, retryAfterSeconds: 3 });
      const response = await open();
      expect(response.status).toBe(errorStatus);
      expect(response.headers.get("retry-after")).toBeNull();
    }
  });

  test("a refusal in the partner's own words: 409 with that error text, nothing done", async () => {
    await expectFaultsSet({ failNext: 1, errorStatus: 409, errorCode: "plate exists" });
    const response = await open();
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({
      error: "plate exists",
      message: "request refused (injected)",
    });
    expect(response.headers.get("retry-after")).toBeNull();
    expect(sim.recorder.opens()).toHaveLength(0);
  });

  test("non-json answers 200 text/html; the door still opens", async () => {
    await expectFaultsSet({ responseMode: "non-json" });
    const response = await open();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/html");
    expect(await response.text()).toBe("<html>oops</html>");
    expect(sim.recorder.opens()).toHaveLength(1);
    expect(sim.recorder.opens()[0]?.fault).toBe("non-json");
  });

  test("bad-schema answers 200 JSON that breaks the contract", async () => {
    await expectFaultsSet({ responseMode: "bad-schema" });
    const response = await open();
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.eventId).toBeUndefined();
    expect(OpenResponse.safeParse(body).success).toBe(false);
    const health = await fetch(`${sim.url}/v1/health`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(HealthResponse.safeParse(await health.json()).success).toBe(false);
  });

  test("hang never answers; the client's timeout ends it and nothing opens", async () => {
    await expectFaultsSet({ responseMode: "hang" });
    const error = await open(AbortSignal.timeout(300)).then(
      () => null,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe("TimeoutError");
    const record = await sim.recorder.waitFor((r) => r.fault === "hang");
    expect(record.status).toBe(0);
    expect(sim.recorder.opens()).toHaveLength(0);
  });

  test("tokenEndpointDown answers 503 temporarily_unavailable; the API keeps working", async () => {
    await expectFaultsSet({ tokenEndpointDown: true });
    const response = await tokenRequest(
      sim,
      { grant_type: "client_credentials" },
      { authorization: basicAuth(DOOR_APP.clientId, DOOR_APP.clientSecret) },
    );
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(await response.json()).toMatchObject({ error: "temporarily_unavailable" });
    expect((await open()).status).toBe(200);
    expect(sim.recorder.count({ operation: "token", fault: "tokenEndpointDown" })).toBe(1);
  });

  test("tokenLifetimeSeconds applies to tokens issued from then on", async () => {
    await expectFaultsSet({ tokenLifetimeSeconds: 1 });
    const response = await tokenRequest(
      sim,
      { grant_type: "client_credentials" },
      { authorization: basicAuth(DOOR_APP.clientId, DOOR_APP.clientSecret) },
    );
    const body = (await response.json()) as { access_token: string; expires_in: number };
    expect(body.expires_in).toBe(1);
    const claims = decodeJwt(body.access_token);
    expect(Number(claims.exp) - Number(claims.iat)).toBe(1);
    // The token issued earlier keeps its own lifetime.
    expect((await open()).status).toBe(200);
  });

  test("faults set in process act like the admin API", async () => {
    sim.faults.set({ failNext: 1, errorStatus: 502 });
    expect((await open()).status).toBe(502);
    expect((await open()).status).toBe(200);
  });
});

describe("stop", () => {
  test("stop() releases hung requests", async () => {
    const hungSim = await startTestSim();
    const hungToken = await getToken(hungSim, DOOR_APP);
    hungSim.faults.set({ responseMode: "hang", latencyMs: 0 });
    const pending = openDoor(hungSim, hungToken, DOOR, { subject }).then(
      (response) => response.status,
      () => "closed",
    );
    await hungSim.recorder.waitFor((r) => r.fault === "hang");
    await hungSim.stop();
    expect([503, "closed"]).toContain(await pending);
  });
});

describe("revoked tokens", () => {
  test("rejectTokensNext answers 401 invalid_token to that many otherwise valid calls", async () => {
    await expectFaultsSet({ rejectTokensNext: 1 });
    const first = await open();
    expect(first.status).toBe(401);
    expect(first.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect((await open()).status).toBe(200);
  });
});
