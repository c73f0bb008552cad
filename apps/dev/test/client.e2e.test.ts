import { afterAll, describe, expect, test } from "bun:test";
import { createPropgateClient, PropgateError } from "@propgate/client";
import { HIGH_RATE_LIMITS, startTestStack } from "../src/testing/harness.ts";

/**
 * An app's script that uses only `@propgate/client`, against the embedded stack with a low open
 * limit: consent, devices, one open for two calls with one key, and the typed errors.
 */
const OPEN_LIMIT = 5;
const stack = await startTestStack({
  env: { ...HIGH_RATE_LIMITS, RATE_LIMIT_OPEN_PER_MINUTE: String(OPEN_LIMIT) },
});
afterAll(() => stack.close());

async function failure(promise: Promise<unknown>): Promise<PropgateError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PropgateError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

/** The api's log lines of the answers to `procedure`. */
function answers(procedure: string) {
  return stack.logs.filter((line) => line.msg === "request" && line.path === `/trpc/${procedure}`);
}

describe("@propgate/client against the embedded stack", () => {
  test("consent, devices, an open twice with one key, and CONSENT_REQUIRED, FORBIDDEN_DEVICE, RATE_LIMITED", async () => {
    const token = await stack.issuer.mint({ sub: "user-client-script", sites: ["site-a"] });
    const api = createPropgateClient({ url: stack.api.url, getToken: () => token });

    const noConsent = await failure(api.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    expect(noConsent.code).toBe("CONSENT_REQUIRED");
    expect(noConsent.httpStatus).toBe(403);
    expect(noConsent.requestId).toEqual(expect.any(String));
    expect(noConsent.procedure).toBe("intercom.openDoor");

    const consents = await api.consent.list.query();
    const intercom = consents.find((consent) => consent.purpose === "intercom");
    expect(intercom?.state).toBe("none");
    const granted = await api.consent.grant.mutate({
      purpose: "intercom",
      noticeVersion: intercom?.currentNoticeVersion ?? 0,
    });
    expect(granted.consents.find((consent) => consent.purpose === "intercom")?.state).toBe(
      "granted",
    );
    expect(granted.receipt?.payload).toMatchObject({ purpose: "intercom", state: "granted" });

    const devices = await api.devices.list.query();
    expect(devices.every((device) => device.siteId === "site-a")).toBe(true);
    const door = devices.find((device) => device.kind === "door");
    if (!door) throw new Error("no door on site-a");

    const opensBefore = stack.sims.intercom.recorder.opens().length;
    const first = await api.intercom.openDoor.mutate({
      deviceId: door.id,
      idempotencyKey: "tap-client-0001",
    });
    const again = await api.intercom.openDoor.mutate({
      deviceId: door.id,
      idempotencyKey: "tap-client-0001",
    });
    expect(first.status).toBe("opened");
    expect(again.eventId).toBe(first.eventId);
    expect(stack.sims.intercom.recorder.opens().length - opensBefore).toBe(1);
    const open = api.$rateLimit?.limits.find((limit) => limit.policy === "open");
    expect(open).toMatchObject({ quota: OPEN_LIMIT, windowSeconds: 60 });
    expect(open?.remaining).toBeLessThan(OPEN_LIMIT);

    const forbidden = await failure(api.intercom.openDoor.mutate({ deviceId: "door-b1" }));
    expect(forbidden.code).toBe("FORBIDDEN_DEVICE");
    expect(forbidden.httpStatus).toBe(403);

    // Taps without a key of the caller's: each one its own open, until the limit refuses one.
    let limited: PropgateError | null = null;
    for (let tap = 0; tap <= OPEN_LIMIT && !limited; tap++) {
      limited = await api.intercom.openDoor.mutate({ deviceId: door.id }).then(
        () => null,
        (error: unknown) => (error instanceof PropgateError ? error : Promise.reject(error)),
      );
    }
    if (!limited) throw new Error("the open limit refused nothing");
    expect(limited.code).toBe("RATE_LIMITED");
    expect(limited.httpStatus).toBe(429);
    expect(limited.retryAfterSeconds).toBeGreaterThan(0);
    expect(limited.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(api.$rateLimit?.status).toBe(429);
    expect(api.$rateLimit?.limits.find((limit) => limit.policy === "open")?.remaining).toBe(0);
    // Its wait is beyond the client's bound (5 s): answered once, not retried.
    expect(answers("intercom.openDoor").filter((line) => line.status === 429)).toHaveLength(1);
  });

  test("an expired token: one refresh, and the call goes through", async () => {
    const expired = await stack.issuer.mint({
      sub: "user-client-refresh",
      sites: ["site-a"],
      expiresAt: Math.floor(Date.now() / 1000) - 600,
    });
    const fresh = await stack.issuer.mint({ sub: "user-client-refresh", sites: ["site-a"] });
    const asked: Array<boolean | undefined> = [];
    const api = createPropgateClient({
      url: stack.api.url,
      getToken: (options) => {
        asked.push(options?.refresh);
        return options?.refresh ? fresh : expired;
      },
    });
    const devices = await api.devices.list.query();
    expect(devices.length).toBeGreaterThan(0);
    expect(asked).toEqual([undefined, true]);

    const never = createPropgateClient({ url: stack.api.url, getToken: () => expired });
    const refused = await failure(never.consent.list.query());
    expect(refused.code).toBe("UNAUTHORIZED");
    expect(refused.httpStatus).toBe(401);
  });
});
