import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PARTNER_SCOPES } from "@propgate/partner-client/contract";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import type { PartnerSim } from "../src/index.ts";
import {
  basicAuth,
  DOOR_APP,
  GATE_ONLY,
  ODD_CLIENT,
  startTestSim,
  tokenRequest,
} from "./helpers.ts";

let sim: PartnerSim;
beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(() => sim.stop());

const GRANT = { grant_type: "client_credentials" };

describe("discovery", () => {
  test("serves RFC 8414 metadata", async () => {
    const response = await fetch(`${sim.url}/.well-known/oauth-authorization-server`);
    expect(response.status).toBe(200);
    const metadata = await response.json();
    expect(metadata).toEqual({
      issuer: sim.url,
      token_endpoint: `${sim.url}/oauth/token`,
      jwks_uri: `${sim.url}/.well-known/jwks.json`,
      grant_types_supported: ["client_credentials"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      scopes_supported: [...PARTNER_SCOPES],
      response_types_supported: [],
    });
    expect(sim.issuer).toBe(sim.url);
    expect(sim.audience).toBe("urn:propgate:partner-sim:intercom");
  });

  test("metadataAt: RFC 8414's path, OpenID Connect discovery's, or both; elsewhere 404 as any unknown path", async () => {
    const rfc8414 = `${sim.url}/.well-known/oauth-authorization-server`;
    const oidc = `${sim.url}/.well-known/openid-configuration`;
    const statuses = async () => [(await fetch(rfc8414)).status, (await fetch(oidc)).status];
    try {
      expect(await statuses()).toEqual([200, 404]);
      sim.faults.set({ metadataAt: "oidc" });
      expect(await statuses()).toEqual([404, 200]);
      const missing = await fetch(rfc8414);
      expect(await missing.json()).toMatchObject({ error: "not_found" });
      const served = await fetch(oidc);
      expect(served.headers.get("content-type")).toStartWith("application/json");
      expect(await served.json()).toMatchObject({
        issuer: sim.url,
        token_endpoint: `${sim.url}/oauth/token`,
      });
      sim.faults.set({ metadataAt: "both" });
      expect(await statuses()).toEqual([200, 200]);
    } finally {
      sim.faults.reset();
    }
  });

  test("serves one public RS256 key", async () => {
    const jwks = (await (await fetch(`${sim.url}/.well-known/jwks.json`)).json()) as {
      keys: Record<string, unknown>[];
    };
    expect(jwks.keys).toHaveLength(1);
    const [key] = jwks.keys;
    expect(key).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
    expect(typeof key?.kid).toBe("string");
    expect(key?.d).toBeUndefined();
  });
});

describe("token endpoint", () => {
  test("client_secret_basic issues an RFC 9068 token that verifies against the JWKS", async () => {
    const response = await tokenRequest(sim, GRANT, {
      authorization: basicAuth(DOOR_APP.clientId, DOOR_APP.clientSecret),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      token_type: "Bearer",
      expires_in: 300,
      scope: "intercom.open barrier.open health.read",
    });

    const token = String(body.access_token);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "RS256", typ: "at+jwt" });
    const jwks = createRemoteJWKSet(new URL(`${sim.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(token, jwks, {
      issuer: sim.issuer,
      audience: sim.audience,
      typ: "at+jwt",
    });
    expect(payload).toMatchObject({
      iss: sim.url,
      sub: DOOR_APP.clientId,
      aud: sim.audience,
      client_id: DOOR_APP.clientId,
      scope: "intercom.open barrier.open health.read",
    });
    expect(typeof payload.jti).toBe("string");
    expect(Number(payload.exp) - Number(payload.iat)).toBe(300);

    const record = await sim.recorder.waitFor(
      (r) => r.operation === "token" && r.tokenClaims?.jti === payload.jti,
    );
    expect(record).toMatchObject({ status: 200, clientId: DOOR_APP.clientId, method: "POST" });
    expect(JSON.stringify(record)).not.toContain(DOOR_APP.clientSecret);
  });

  test("client_secret_post issues a token for the requested scope only", async () => {
    const response = await tokenRequest(sim, {
      ...GRANT,
      scope: "health.read",
      client_id: DOOR_APP.clientId,
      client_secret: DOOR_APP.clientSecret,
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { scope: string };
    expect(body.scope).toBe("health.read");
  });

  test("Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1)", async () => {
    const response = await tokenRequest(sim, GRANT, {
      authorization: basicAuth(ODD_CLIENT.clientId, ODD_CLIENT.clientSecret),
    });
    expect(response.status).toBe(200);
  });

  test("wrong secret and unknown client are invalid_client with 401 and a Basic challenge", async () => {
    for (const authorization of [
      basicAuth(DOOR_APP.clientId, "wrong-secret"),
      basicAuth("nobody", DOOR_APP.clientSecret),
    ]) {
      const response = await tokenRequest(sim, GRANT, { authorization });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toStartWith("Basic realm=");
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(await response.json()).toMatchObject({ error: "invalid_client" });
    }
    const post = await tokenRequest(sim, {
      ...GRANT,
      client_id: DOOR_APP.clientId,
      client_secret: "wrong-secret",
    });
    expect(post.status).toBe(401);
    expect(await post.json()).toMatchObject({ error: "invalid_client" });

    const anonymous = await tokenRequest(sim, GRANT);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: "invalid_client" });
  });

  test("invalid_scope for a scope the client may not have, or an unknown one", async () => {
    for (const scope of ["intercom.open", "barrier.open admin.everything", "barrier.open  x"]) {
      const response = await tokenRequest(
        sim,
        { ...GRANT, scope },
        { authorization: basicAuth(GATE_ONLY.clientId, GATE_ONLY.clientSecret) },
      );
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: "invalid_scope" });
    }
  });

  test("unsupported_grant_type", async () => {
    const response = await tokenRequest(
      sim,
      { grant_type: "password", username: "u", password: "p" },
      { authorization: basicAuth(DOOR_APP.clientId, DOOR_APP.clientSecret) },
    );
    expect(response.status).toBe(400);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.json()).toMatchObject({ error: "unsupported_grant_type" });
  });

  test("invalid_request: both auth methods, missing or repeated parameters, wrong content type", async () => {
    const auth = { authorization: basicAuth(DOOR_APP.clientId, DOOR_APP.clientSecret) };
    const both = await tokenRequest(
      sim,
      { ...GRANT, client_id: DOOR_APP.clientId, client_secret: DOOR_APP.clientSecret },
      auth,
    );
    expect(both.status).toBe(400);
    expect(await both.json()).toMatchObject({ error: "invalid_request" });

    const missing = await tokenRequest(sim, {}, auth);
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: "invalid_request" });

    const repeated = await fetch(`${sim.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...auth },
      body: "grant_type=client_credentials&grant_type=client_credentials",
    });
    expect(repeated.status).toBe(400);
    expect(await repeated.json()).toMatchObject({ error: "invalid_request" });

    const json = await fetch(`${sim.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify(GRANT),
    });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: "invalid_request" });
  });

  test("token requests are recorded without secrets or the Authorization header", async () => {
    const records = sim.recorder.all({ operation: "token" });
    expect(records.length).toBeGreaterThan(5);
    const dump = JSON.stringify(records);
    for (const secret of [DOOR_APP.clientSecret, GATE_ONLY.clientSecret, ODD_CLIENT.clientSecret]) {
      expect(dump).not.toContain(secret);
    }
    expect(dump).not.toContain("Basic ");
    expect(dump).not.toContain("access_token");
  });
});
