import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { countAuditEvents, upsertDevices } from "@propgate/consent-audit";
import { generateKeyPair, SignJWT } from "jose";
import { SEED_DEVICES } from "../src/seed.ts";
import {
  clearRecorders,
  errorOf,
  grant,
  HIGH_RATE_LIMITS,
  startInstance,
  startTestStack,
} from "../src/testing/harness.ts";

const stack = await startTestStack();
afterAll(() => stack.close());
beforeEach(() => clearRecorders(stack));

function partnerTraffic() {
  // everything, token and discovery requests included: none may happen
  return [...stack.sims.intercom.recorder.all(), ...stack.sims.barrier.recorder.all()];
}

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const resident = await stack.resident("user-raw-http");
  const response = await fetch(`${stack.api.url}/trpc/${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${resident.token}`,
      "content-type": "application/json",
      ...headers,
    },
    body,
  });
  return {
    status: response.status,
    body: (await response.json()) as {
      error: {
        message: string;
        data: { code: string; cause: { code: string }; requestId: string };
      };
    },
  };
}

describe("resident authentication", () => {
  test("no token → UNAUTHORIZED", async () => {
    const error = await errorOf(stack.client(null).devices.list.query());
    expect(error).toMatchObject({ code: "UNAUTHORIZED", httpStatus: 401, cause: "UNAUTHORIZED" });
  });

  test("a token signed by another key → UNAUTHORIZED", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const forged = await new SignJWT({ sites: ["site-a"] })
      .setProtectedHeader({ alg: "RS256", kid: "attacker" })
      .setIssuer(stack.issuer.issuer)
      .setAudience(stack.issuer.audience)
      .setSubject("user-forged")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(privateKey);
    const error = await errorOf(stack.client(forged).devices.list.query());
    expect(error.code).toBe("UNAUTHORIZED");
  });

  test("an expired token → UNAUTHORIZED", async () => {
    const expired = await stack.issuer.mint({
      sub: "user-expired",
      sites: ["site-a"],
      expiresAt: Math.floor(Date.now() / 1000) - 60,
    });
    const error = await errorOf(stack.client(expired).devices.list.query());
    expect(error).toMatchObject({ code: "UNAUTHORIZED", message: "the token has expired" });
  });

  test("a token for another audience → UNAUTHORIZED", async () => {
    const other = await stack.issuer.mint({
      sub: "user-aud",
      sites: ["site-a"],
      audience: "some-other-api",
    });
    const error = await errorOf(stack.client(other).devices.list.query());
    expect(error.code).toBe("UNAUTHORIZED");
  });

  test("a malformed authorization header → UNAUTHORIZED", async () => {
    const response = await fetch(`${stack.api.url}/trpc/devices.list`, {
      headers: { authorization: "Basic dXNlcjpwYXNz" },
    });
    expect(response.status).toBe(401);
  });

  test("admin procedures need the admin role", async () => {
    const resident = await stack.resident("user-not-admin");
    const error = await errorOf(resident.trpc.admin.devices.list.query());
    expect(error).toMatchObject({ code: "FORBIDDEN", cause: "FORBIDDEN" });
  });
});

describe("device access and consent", () => {
  test("a device of another site → FORBIDDEN_DEVICE and no partner call", async () => {
    const resident = await stack.resident("user-site-b", ["site-b"]);
    await grant(resident, ["intercom", "barrier"]);
    const door = await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    expect(door).toMatchObject({ code: "FORBIDDEN", httpStatus: 403, cause: "FORBIDDEN_DEVICE" });
    const unknown = await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: "door-zz" }));
    expect(unknown.cause).toBe("FORBIDDEN_DEVICE");
    const gateAsDoor = await errorOf(
      resident.trpc.intercom.openDoor.mutate({ deviceId: "gate-b" }),
    );
    expect(gateAsDoor.cause).toBe("FORBIDDEN_DEVICE");
    expect(partnerTraffic()).toHaveLength(0);
  });

  test("a device moved to another site is refused by every instance at once, though they hold it in memory", async () => {
    // Two instances beside the stack's, with limits a polling test cannot reach.
    const a = await startInstance(stack, "api-device-cache-a", HIGH_RATE_LIMITS);
    const b = await startInstance(stack, "api-device-cache-b", HIGH_RATE_LIMITS);
    const resident = await stack.resident("user-device-moved");
    await grant(resident, ["intercom"]);
    const [viaA, viaB] = [a.client(resident.token), b.client(resident.token)];
    const open = (client: typeof resident.trpc) =>
      client.intercom.openDoor.mutate({ deviceId: "door-a2" }).then(
        () => "opened",
        (error: unknown) => (error as { data?: { cause?: { code?: string } } }).data?.cause?.code,
      );
    const door = SEED_DEVICES.find((device) => device.id === "door-a2");
    if (!door) throw new Error("door-a2 is not seeded");
    const audit = { sourceApp: "test", instanceId: "test" };
    try {
      // Both instances have read the device (and cached it for 30 s).
      expect([await open(viaA), await open(viaB)]).toEqual(["opened", "opened"]);
      await upsertDevices(stack.database.db, [{ ...door, siteId: "site-b" }], audit);
      // NOTIFY reaches both listeners a moment after the commit; well inside the cache's 30 s.
      const deadline = Date.now() + 5_000;
      const refused = async (client: typeof resident.trpc) => {
        while (Date.now() < deadline) {
          const outcome = await open(client);
          if (outcome !== "opened") return outcome;
          await Bun.sleep(10);
        }
        return "still opened after 5 s";
      };
      expect([await refused(viaA), await refused(viaB)]).toEqual([
        "FORBIDDEN_DEVICE",
        "FORBIDDEN_DEVICE",
      ]);
    } finally {
      await upsertDevices(stack.database.db, [door], audit);
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test("no consent → CONSENT_REQUIRED and no partner call, not even a token request", async () => {
    const resident = await stack.resident("user-no-consent");
    const before = await countAuditEvents(stack.database.db, { kind: "partner.request" });
    const error = await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    expect(error).toMatchObject({ code: "FORBIDDEN", cause: "CONSENT_REQUIRED" });
    expect(partnerTraffic()).toHaveLength(0);
    expect(await countAuditEvents(stack.database.db, { kind: "partner.request" })).toBe(before);
  });

  test("consent for one purpose does not cover another", async () => {
    const resident = await stack.resident("user-intercom-only");
    await grant(resident, ["intercom"]);
    const error = await errorOf(resident.trpc.barrier.open.mutate({ deviceId: "gate-a" }));
    expect(error.cause).toBe("CONSENT_REQUIRED");
    expect(partnerTraffic()).toHaveLength(0);
  });

  test("after revoke, opens are refused again", async () => {
    const resident = await stack.resident("user-revoker");
    await grant(resident, ["intercom"]);
    await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    const { consents } = await resident.trpc.consent.revoke.mutate({ purpose: "intercom" });
    expect(consents.find((consent) => consent.purpose === "intercom")?.state).toBe("revoked");
    stack.sims.intercom.recorder.clear();
    const error = await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    expect(error.cause).toBe("CONSENT_REQUIRED");
    expect(partnerTraffic()).toHaveLength(0);
  });

  test("granting with a stale notice version is refused", async () => {
    const resident = await stack.resident("user-stale-notice");
    const error = await errorOf(
      resident.trpc.consent.grant.mutate({ purpose: "intercom", noticeVersion: 99 }),
    );
    expect(error).toMatchObject({ code: "BAD_REQUEST", cause: "INVALID_INPUT" });
    const consents = await resident.trpc.consent.list.query();
    expect(consents.find((consent) => consent.purpose === "intercom")?.state).toBe("none");
  });
});

describe("bad input is a clear BAD_REQUEST, never a 500", () => {
  test("an oversized body", async () => {
    const { status, body } = await post(
      "intercom.openDoor",
      JSON.stringify({ deviceId: "door-a1", pad: "x".repeat(200_000) }),
    );
    expect(status).toBe(400);
    expect(body.error.data.code).toBe("BAD_REQUEST");
    expect(body.error.message).toContain("larger than");
  });

  test("wrong types", async () => {
    const { status, body } = await post("intercom.openDoor", JSON.stringify({ deviceId: 42 }));
    expect(status).toBe(400);
    expect(body.error.data).toMatchObject({
      code: "BAD_REQUEST",
      cause: { code: "INVALID_INPUT" },
    });
  });

  test("unknown fields", async () => {
    const { status, body } = await post(
      "intercom.openDoor",
      JSON.stringify({ deviceId: "door-a1", userId: "someone-else" }),
    );
    expect(status).toBe(400);
    expect(body.error.data.code).toBe("BAD_REQUEST");
  });

  test("bad JSON", async () => {
    const { status, body } = await post("intercom.openDoor", "{not json");
    expect(status).toBe(400);
    expect(body.error.data.code).toBe("BAD_REQUEST");
    expect(body.error.data.requestId).toMatch(/^req_/);
  });

  test("an unknown purpose or a bad idempotency key", async () => {
    expect(
      (await post("consent.grant", JSON.stringify({ purpose: "everything", noticeVersion: 1 })))
        .status,
    ).toBe(400);
    expect(
      (
        await post(
          "intercom.openDoor",
          JSON.stringify({ deviceId: "door-a1", idempotencyKey: "a b" }),
        )
      ).status,
    ).toBe(400);
  });
});
