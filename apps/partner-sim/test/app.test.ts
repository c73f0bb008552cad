import { describe, expect, test } from "bun:test";
import { createPartnerSimApp } from "../src/index.ts";
import { basicAuth, DOOR_APP, subjectOf } from "./helpers.ts";

// The apps without a listener, as a host process would mount them.
describe("createPartnerSimApp", () => {
  test("serves metadata and tokens through app.request()", async () => {
    const sim = await createPartnerSimApp({
      name: "barrier",
      issuer: "https://barrier.partner.test/",
      clients: [DOOR_APP],
      barriers: ["gate-1"],
    });
    expect(sim.issuer).toBe("https://barrier.partner.test");
    const metadata = await sim.api.request("/.well-known/oauth-authorization-server");
    expect(await metadata.json()).toMatchObject({
      issuer: "https://barrier.partner.test",
      token_endpoint: "https://barrier.partner.test/oauth/token",
    });
    const token = await sim.api.request("/oauth/token", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basicAuth(DOOR_APP.clientId, DOOR_APP.clientSecret),
      },
      body: "grant_type=client_credentials&scope=barrier.open",
    });
    expect(token.status).toBe(200);
    const faults = await sim.admin.request("/admin/faults");
    expect(await faults.json()).toMatchObject({ responseMode: "normal" });
    sim.close();
  });

  test("close() releases a request held by latency without acting on it", async () => {
    const sim = await createPartnerSimApp({
      issuer: "http://127.0.0.1:9",
      clients: [DOOR_APP],
      intercoms: ["door-1"],
    });
    sim.faults.set({ latencyMs: 600_000 });
    const pending = sim.api.request("/v1/intercoms/door-1/open", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ subject: subjectOf("resident-1") }),
    });
    sim.close();
    const response = await pending;
    expect(response.status).toBe(503);
    expect(sim.recorder.opens()).toHaveLength(0);
  });

  test("rejects bad options", async () => {
    await expect(
      createPartnerSimApp({ issuer: "http://127.0.0.1:9", clients: [DOOR_APP, DOOR_APP] }),
    ).rejects.toThrow("unique");
    await expect(
      createPartnerSimApp({
        issuer: "http://127.0.0.1:9",
        clients: [DOOR_APP],
        intercoms: ["a/b"],
      }),
    ).rejects.toThrow();
  });
});
