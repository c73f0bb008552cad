import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { OpenResponse } from "@propgate/partner-client/contract";
import { generateKeyPair, SignJWT } from "jose";
import type { PartnerSim } from "../src/index.ts";
import {
  DOOR_APP,
  eventually,
  GATE_ONLY,
  getToken,
  openDoor,
  startTestSim,
  subjectOf,
} from "./helpers.ts";

let sim: PartnerSim;
let token: string;
beforeAll(async () => {
  sim = await startTestSim();
  token = await getToken(sim, DOOR_APP);
});
afterAll(() => sim.stop());

const subject = subjectOf("resident-1");

describe("open", () => {
  test("opens a door: 200 with eventId, recorded with claims and body", async () => {
    const response = await openDoor(sim, token, "/v1/intercoms/door-1/open", { subject });
    expect(response.status).toBe(200);
    const body = OpenResponse.parse(await response.json());
    expect(body.eventId).toMatch(/^sim_evt_[0-9a-f]{24}$/);

    const record = await sim.recorder.waitFor((r) => r.eventId === body.eventId);
    expect(record).toMatchObject({
      method: "POST",
      path: "/v1/intercoms/door-1/open",
      operation: "intercom.open",
      status: 200,
      clientId: DOOR_APP.clientId,
      deviceId: "door-1",
      subject,
      body: { subject },
      opened: true,
      tokenClaims: { sub: DOOR_APP.clientId, aud: sim.audience, client_id: DOOR_APP.clientId },
    });
    expect(record.tokenClaims?.scope).toContain("intercom.open");
    expect(JSON.stringify(record)).not.toContain(token);
    expect(sim.recorder.opens().map((r) => r.eventId)).toContain(body.eventId);
  });

  test("opens a gate", async () => {
    const response = await openDoor(sim, token, "/v1/barriers/gate-1/open", { subject });
    expect(response.status).toBe(200);
    OpenResponse.parse(await response.json());
  });

  test("health needs health.read", async () => {
    const ok = await fetch(`${sim.url}/v1/health`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: "ok" });

    const gateToken = await getToken(sim, GATE_ONLY);
    const denied = await fetch(`${sim.url}/v1/health`, {
      headers: { authorization: `Bearer ${gateToken}` },
    });
    expect(denied.status).toBe(403);
  });

  test("unknown device is 404 not_found", async () => {
    const response = await openDoor(sim, token, "/v1/intercoms/door-99/open", { subject });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: "not_found" });
    const gate = await openDoor(sim, token, "/v1/barriers/door-1/open", { subject });
    expect(gate.status).toBe(404);
  });

  test("a body with any field beside subject is 400 invalid_request, and nothing opens", async () => {
    const before = sim.recorder.opens().length;
    const body = { subject, userId: "resident-1" };
    const response = await openDoor(sim, token, "/v1/intercoms/door-1/open", body);
    expect(response.status).toBe(400);
    const error = (await response.json()) as { error: string; message: string };
    expect(error.error).toBe("invalid_request");
    expect(error.message).toContain("userId");
    const record = await sim.recorder.waitFor((r) => r.status === 400 && r.path.includes("door-1"));
    expect(record.body).toEqual(body);
    expect(sim.recorder.opens().length).toBe(before);

    for (const bad of [{}, { subject: "not-a-pseudonym" }, [subject]]) {
      const rejected = await openDoor(sim, token, "/v1/intercoms/door-1/open", bad);
      expect(rejected.status).toBe(400);
    }
    const notJson = await fetch(`${sim.url}/v1/intercoms/door-1/open`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{",
    });
    expect(notJson.status).toBe(400);
  });

  test("unknown routes are JSON 404s", async () => {
    const response = await fetch(`${sim.url}/v1/nothing`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: "not_found" });
  });
});

describe("open: security", () => {
  test("no token is 401 invalid_token with a Bearer challenge", async () => {
    const response = await openDoor(sim, null, "/v1/intercoms/door-1/open", { subject });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(response.headers.get("www-authenticate")).toStartWith("Bearer ");
    expect(await response.json()).toMatchObject({ error: "invalid_token" });

    const basic = await openDoor(
      sim,
      null,
      "/v1/intercoms/door-1/open",
      { subject },
      {
        authorization: "Basic Zm9vOmJhcg==",
      },
    );
    expect(basic.status).toBe(401);
  });

  test("a token without the operation's scope is 403 insufficient_scope", async () => {
    const gateToken = await getToken(sim, GATE_ONLY);
    const response = await openDoor(sim, gateToken, "/v1/intercoms/door-1/open", { subject });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: "insufficient_scope" });
    expect(response.headers.get("www-authenticate")).toContain('scope="intercom.open"');

    const narrow = await getToken(sim, DOOR_APP, "barrier.open");
    const refused = await openDoor(sim, narrow, "/v1/intercoms/door-1/open", { subject });
    expect(refused.status).toBe(403);
    const allowed = await openDoor(sim, narrow, "/v1/barriers/gate-1/open", { subject });
    expect(allowed.status).toBe(200);
  });

  test("an expired token is 401", async () => {
    const shortSim = await startTestSim({ tokenLifetimeSeconds: 1 });
    try {
      const shortToken = await getToken(shortSim, DOOR_APP);
      const first = await openDoor(shortSim, shortToken, "/v1/intercoms/door-1/open", { subject });
      expect(first.status).toBe(200);
      const expired = await eventually(async () => {
        const response = await openDoor(shortSim, shortToken, "/v1/intercoms/door-1/open", {
          subject,
        });
        return response.status === 200 ? undefined : response;
      });
      expect(expired.status).toBe(401);
      expect(await expired.json()).toMatchObject({
        error: "invalid_token",
        message: "token expired",
      });
    } finally {
      await shortSim.stop();
    }
  });

  test("a token signed by another key is 401", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const forged = await new SignJWT({ client_id: DOOR_APP.clientId, scope: "intercom.open" })
      .setProtectedHeader({ alg: "RS256", typ: "at+jwt" })
      .setIssuer(sim.issuer)
      .setAudience(sim.audience)
      .setSubject(DOOR_APP.clientId)
      .setJti("forged")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    const response = await openDoor(sim, forged, "/v1/intercoms/door-1/open", { subject });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: "invalid_token" });
  });

  test("an unsigned (alg none) token is 401", async () => {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${encode({ alg: "none", typ: "at+jwt" })}.${encode({
      iss: sim.issuer,
      aud: sim.audience,
      sub: DOOR_APP.clientId,
      client_id: DOOR_APP.clientId,
      scope: "intercom.open",
      jti: "x",
      iat: now,
      exp: now + 300,
    })}.`;
    const response = await openDoor(sim, unsigned, "/v1/intercoms/door-1/open", { subject });
    expect(response.status).toBe(401);
  });

  test("a token of another partner (other issuer and audience) is 401", async () => {
    const barrierSim = await startTestSim({ name: "barrier" });
    try {
      expect(barrierSim.audience).toBe("urn:propgate:partner-sim:barrier");
      const foreign = await getToken(barrierSim, DOOR_APP);
      const response = await openDoor(sim, foreign, "/v1/intercoms/door-1/open", { subject });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: "invalid_token" });
    } finally {
      await barrierSim.stop();
    }
  });

  test("failed requests keep no token claims and no opens", async () => {
    const unauthorized = sim.recorder.all({ status: 401 });
    expect(unauthorized.length).toBeGreaterThan(0);
    for (const record of unauthorized) {
      expect(record.tokenClaims).toBeUndefined();
      expect(record.opened).toBeUndefined();
    }
  });
});
