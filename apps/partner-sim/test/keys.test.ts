import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { CreatedKey, KeyList, type PartnerScope } from "@propgate/partner-client/contract";
import type { PartnerSim } from "../src/index.ts";
import { getToken, putFaults, startTestSim, subjectOf } from "./helpers.ts";

const KEYS_APP = {
  clientId: "keys-app",
  clientSecret: "keys-app-secret-0123456789",
  scopes: ["keys.manage", "intercom.open"] as PartnerScope[],
};
const OTHER_KEYS_APP = { ...KEYS_APP, clientId: "other-keys-app" };
const OPEN_ONLY = {
  ...KEYS_APP,
  clientId: "open-only",
  scopes: ["intercom.open"] as PartnerScope[],
};

let sim: PartnerSim;
let token = "";
let openOnly = "";
let other = "";
beforeAll(async () => {
  sim = await startTestSim({ clients: [KEYS_APP, OTHER_KEYS_APP, OPEN_ONLY] });
  token = await getToken(sim, KEYS_APP);
  other = await getToken(sim, OTHER_KEYS_APP);
  openOnly = await getToken(sim, OPEN_ONLY);
});
beforeEach(() => sim.faults.reset());
afterAll(() => sim.stop());

const subject = subjectOf("usr_keys");
const body = (over: Record<string, unknown> = {}) => ({
  subject,
  devices: ["door-1", "door-2"],
  validFrom: new Date().toISOString(),
  validUntil: new Date(Date.now() + 2 * 3_600_000).toISOString(),
  ...over,
});

function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; key?: string } = {},
) {
  const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? token}` };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.key !== undefined) headers["idempotency-key"] = options.key;
  return fetch(new URL(path, sim.url), {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
}

async function list(siteId = "site-1", as = token) {
  const response = await call("GET", `/v1/sites/${siteId}/keys?subject=${subject}`, { token: as });
  expect(response.status).toBe(200);
  return KeyList.parse(await response.json()).keys;
}

describe("guest keys at the sim", () => {
  test("create answers the code once; list shows the key without it; delete ends it", async () => {
    const created = await call("POST", "/v1/sites/site-1/keys", {
      body: body(),
      key: "idem-create-1",
    });
    expect(created.status).toBe(201);
    const key = CreatedKey.parse(await created.json());
    expect(key.code).toMatch(/^\d{8}$/);
    const listed = await list();
    expect(listed.map((k) => k.keyId)).toEqual([key.keyId]);
    expect(JSON.stringify(listed)).not.toContain(key.code);
    expect(await list("site-2")).toEqual([]);
    expect(await list("site-1", other)).toEqual([]);

    const wrongSubject = await call("DELETE", `/v1/keys/${key.keyId}?subject=${subjectOf("x")}`);
    expect(wrongSubject.status).toBe(404);
    expect((await call("DELETE", `/v1/keys/${key.keyId}?subject=${subject}`)).status).toBe(204);
    expect((await call("DELETE", `/v1/keys/${key.keyId}?subject=${subject}`)).status).toBe(404);
    expect(await list()).toEqual([]);
  });

  test("one Idempotency-Key issues one key; another body under it is refused", async () => {
    const first = CreatedKey.parse(
      await (
        await call("POST", "/v1/sites/site-1/keys", {
          body: body({
            validFrom: "2031-01-01T10:00:00.000Z",
            validUntil: "2031-01-01T12:00:00.000Z",
          }),
          key: "idem-retry-1",
        })
      ).json(),
    );
    const again = await call("POST", "/v1/sites/site-1/keys", {
      body: body({ validFrom: "2031-01-01T10:00:00.000Z", validUntil: "2031-01-01T12:00:00.000Z" }),
      key: "idem-retry-1",
    });
    expect(CreatedKey.parse(await again.json())).toEqual(first);
    expect(sim.keys.keys(subject).filter((k) => k.keyId === first.keyId)).toHaveLength(1);
    const reused = await call("POST", "/v1/sites/site-1/keys", {
      body: body(),
      key: "idem-retry-1",
    });
    expect(reused.status).toBe(422);
  });

  test("strict: no Idempotency-Key, an unknown door, a field beyond the contract, the wrong scope", async () => {
    expect((await call("POST", "/v1/sites/site-1/keys", { body: body() })).status).toBe(400);
    expect(
      (
        await call("POST", "/v1/sites/site-1/keys", {
          body: body({ devices: ["door-9"] }),
          key: "idem-strict-1",
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await call("POST", "/v1/sites/site-1/keys", {
          body: body({ userId: "usr_1" }),
          key: "idem-strict-2",
        })
      ).status,
    ).toBe(400);
    const refused = await call("POST", "/v1/sites/site-1/keys", {
      token: openOnly,
      body: body(),
      key: "idem-strict-3",
    });
    expect(refused.status).toBe(403);
    expect(sim.keys.keys(subject).some((k) => k.devices.includes("door-9"))).toBe(false);
  });

  test("the keysNotStored fault: 201 with a code, and the list never shows it", async () => {
    expect((await putFaults(sim, { keysNotStored: true })).status).toBe(200);
    const created = await call("POST", "/v1/sites/site-3/keys", {
      body: body(),
      key: "idem-fault-1",
    });
    expect(created.status).toBe(201);
    CreatedKey.parse(await created.json());
    expect(await list("site-3")).toEqual([]);
  });
});
