import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  grant,
  type Instance,
  startInstance,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";

/**
 * The api's token source finds a partner's token endpoint through its issuer: RFC 8414's
 * metadata, or OpenID Connect discovery's when RFC 8414's path is not served (many partners'
 * identity servers serve only that). An instance started after the partner switched to OpenID
 * Connect discovery only (its token source has discovered nothing yet) still opens a door.
 */
let stack: TestStack;
let instance: Instance | undefined;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await instance?.stop();
  await stack?.close();
});

describe("partner discovery in the api", () => {
  test("a partner serving only OpenID Connect discovery: the door opens, RFC 8414 asked first", async () => {
    const sim = stack.sims.intercom;
    sim.faults.set({ metadataAt: "oidc" });
    sim.recorder.clear();
    instance = await startInstance(stack, "api-oidc-discovery");
    const resident = await stack.resident("user-oidc-discovery");
    await grant(resident, ["intercom"]);
    const opened = await instance
      .client(resident.token)
      .intercom.openDoor.mutate({ deviceId: "door-a1" });
    expect(opened.status).toBe("opened");
    expect(sim.recorder.all({ operation: "metadata" }).map((r) => [r.path, r.status])).toEqual([
      ["/.well-known/oauth-authorization-server", 404],
      ["/.well-known/openid-configuration", 200],
    ]);
    expect(sim.recorder.count({ operation: "intercom.open", status: 200 })).toBe(1);
  }, 30_000);
});
