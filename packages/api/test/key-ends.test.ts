import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  setDefaultTimeout,
  test,
} from "bun:test";
import {
  type AuditWriter,
  type ConsentCache,
  createSubjectRegistry,
  type DeviceCache,
  getKey,
  type JournalWriter,
  placeBlock,
  recordAnomaly,
  upsertDevices,
} from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { TRACING_OFF } from "@propgate/observability";
import { createPartnerClient, keysOperations } from "@propgate/partner-client";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { createAdminReadLimits } from "../src/admin/read-limits.ts";
import type { AppDeps, Principal, Watch } from "../src/index.ts";
import { type KeyEndWorker, startKeyEndWorker } from "../src/keys/end-worker.ts";
import { appRouter } from "../src/root.ts";
import type { Context } from "../src/trpc.ts";
import {
  countingRateLimits,
  device,
  type memoryAuditWriter,
  only,
  partnerCallServices,
  pseudonymOf,
  TEST_SETTINGS,
  tokenVerifier,
} from "./fake-services.ts";
import { observed } from "./fixtures/observed.ts";

setDefaultTimeout(60_000);

/**
 * Guest keys end with the resident's rights (issue 27, item 3): a revocation of `guests`, a
 * site gone from the token, a block or a door leaving the site queue the keys (gone from
 * `keys.list` at once) and the end worker — as every instance runs it, on its 1 s timer —
 * deletes them at the partner within 5 s, retrying while the partner is down. In process: tRPC's
 * fetch handler, a real database, the real subject registry, the intercom's real client over a
 * stub partner that holds the keys it issued.
 */

const SITES_AB: Principal = {
  userId: "resident-ends",
  sites: ["site-a", "site-b"],
  units: [],
  adminRole: null,
};
const SITE_A_ONLY: Principal = { ...SITES_AB, sites: ["site-a"] };
const DEVICES = [
  device({ id: "door-a1", kind: "door", siteId: "site-a", partner: "intercom" }),
  device({ id: "door-a2", kind: "door", siteId: "site-a", partner: "intercom" }),
  device({ id: "door-b1", kind: "door", siteId: "site-b", partner: "intercom" }),
];
const AUDIT = { sourceApp: "api" as const, instanceId: "api-test", actor: "propgate" };
const HOUR = 3_600_000;
/** The bound from a cause to the partner's DELETE. */
const WITHIN_MS = 5000;

/** The intercom for keys: issues keys, deletes them (404 once gone), or is down (503). */
function stubPartner() {
  const held = new Map<string, { subject: string }>();
  const deletes: Array<{ keyId: string; subject: string; status: number }> = [];
  let issued = 0;
  let down = false;
  const client = createPartnerClient({
    name: "intercom",
    baseUrl: new URL("https://intercom.test/api/"),
    tokenSource: { getToken: async () => "partner-token" },
    fetch: async (input, init) => {
      const url = new URL(String(input));
      if (down) return Response.json({ error: "down" }, { status: 503 });
      if (init?.method === "POST") {
        const body = JSON.parse(String(init.body));
        const keyId = `pk-${++issued}`;
        held.set(keyId, { subject: body.subject });
        return Response.json(
          {
            keyId,
            code: `9${String(issued).padStart(7, "0")}`,
            validFrom: body.validFrom,
            validUntil: body.validUntil,
          },
          { status: 201 },
        );
      }
      if (init?.method === "DELETE") {
        const keyId = decodeURIComponent(url.pathname.split("/").at(-1) ?? "");
        const subject = url.searchParams.get("subject") ?? "";
        const status = held.get(keyId)?.subject === subject ? 204 : 404;
        if (status === 204) held.delete(keyId);
        deletes.push({ keyId, subject, status });
        return new Response(null, { status });
      }
      return new Response(null, { status: 405 });
    },
    timeoutMs: 2000,
    maxAttempts: 1,
  });
  return {
    keys: keysOperations(client),
    held: () => [...held.keys()],
    deletes,
    setDown(value: boolean) {
      down = value;
    },
  };
}

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
  await upsertDevices(
    database.db,
    DEVICES.map(({ createdAt: _c, updatedAt: _u, ...record }) => record),
    AUDIT,
  );
});
afterAll(() => database.close());

let partner: ReturnType<typeof stubPartner>;
let deps: AppDeps;
let audit: ReturnType<typeof memoryAuditWriter>;
let worker: KeyEndWorker;
beforeEach(async () => {
  await database.db.execute("delete from guest_keys");
  partner = stubPartner();
  const fakes = partnerCallServices(DEVICES);
  fakes.consent.grant(SITES_AB.userId, "guests");
  audit = fakes.services.auditWriter;
  const { logger } = observed();
  deps = {
    settings: { ...TEST_SETTINGS, guestKeys: { maxHours: 72, maxActive: 10 } },
    tracing: TRACING_OFF,
    database,
    auditWriter: only<AuditWriter>("auditWriter", audit),
    journalWriter: only<JournalWriter>("journalWriter"),
    watch: only<Watch>("watch", fakes.services.watch),
    adminReads: createAdminReadLimits({
      readStatementTimeoutMs: 100,
      auditStatementTimeoutMs: 100,
    }),
    logger,
    metrics: fakes.services.metrics,
    verifier: tokenVerifier({ ab: SITES_AB, a: SITE_A_ONLY }),
    partners: only<AppDeps["partners"]>("partners", {
      intercom: only<AppDeps["partners"]["intercom"]>("intercom", { keys: partner.keys }),
    }),
    devices: only<DeviceCache>("devices", fakes.services.devices),
    consents: only<ConsentCache>("consents", fakes.services.consents),
    // The real registry: confirming the token's sites is what ends keys at sites it lost.
    subjects: createSubjectRegistry(database.db, pseudonymOf),
    units: { confirm: async () => {} },
    inflight: fakes.services.inflight,
    rateLimits: countingRateLimits(),
    journalEvents: only("journalEvents"),
    receiptSigner: null,
  };
  // As every api instance runs it (GUEST_KEY_END_INTERVAL_MS and retries at their defaults).
  worker = startKeyEndWorker(deps, {
    instanceId: "api-test",
    intervalMs: 1000,
    batch: 50,
    baseRetrySeconds: 1,
    maxRetrySeconds: 4,
  });
});
afterEach(() => worker.stop());

async function call(token: "ab" | "a", path: string, input?: unknown, mutation = true) {
  const url = new URL(`http://api.test/trpc/${path}`);
  const request = mutation
    ? new Request(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(input ?? {}),
      })
    : new Request(url);
  const context: Context = {
    deps,
    requestId: "req-key-ends",
    clientIp: "198.51.100.7",
    clientAddress: "198.51.100.7",
    authorization: `Bearer ${token}`,
    responseHeaders: new Headers(),
  };
  const response = await fetchRequestHandler({
    endpoint: "/trpc",
    req: request,
    router: appRouter,
    createContext: () => context,
  });
  const body = (await response.json()) as { result?: { data: unknown }; error?: unknown };
  if (!body.result) throw new Error(`${path} failed: ${JSON.stringify(body.error)}`);
  return body.result.data;
}

const listed = async (token: "ab" | "a" = "ab") =>
  ((await call(token, "keys.list", undefined, false)) as Array<{ keyId: string }>).map(
    (key) => key.keyId,
  );

async function createKey(deviceIds: string[]): Promise<{ keyId: string; partnerKeyId: string }> {
  const before = new Set(partner.held());
  const created = (await call("ab", "keys.create", {
    deviceIds,
    validUntil: new Date(Date.now() + 2 * HOUR).toISOString(),
  })) as { keyId: string };
  const partnerKeyId = partner.held().find((id) => !before.has(id));
  if (!partnerKeyId) throw new Error("the partner holds no new key");
  return { keyId: created.keyId, partnerKeyId };
}

/** Polls until `done` holds, failing with `what` past the deadline. */
async function within<T>(ms: number, read: () => Promise<T> | T, done: (value: T) => boolean) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${JSON.stringify(value)}`);
    await Bun.sleep(25);
  }
}

const rowOf = (keyId: string) => getKey(database.db, keyId, SITES_AB.userId);

describe("guest keys end with the resident's rights", () => {
  test("revoking guests with three active keys: gone from keys.list at once, deleted at the partner within 5 s, audited", async () => {
    await call("ab", "consent.grant", { purpose: "guests", noticeVersion: 1 });
    const keys = [
      await createKey(["door-a1"]),
      await createKey(["door-a1", "door-a2"]),
      await createKey(["door-b1"]),
    ];
    expect(partner.held()).toHaveLength(3);
    const revokedAt = Date.now();
    await call("ab", "consent.revoke", { purpose: "guests" });
    expect(await listed()).toEqual([]);

    await within(WITHIN_MS, partner.held, (held) => held.length === 0);
    expect(Date.now() - revokedAt).toBeLessThan(WITHIN_MS);
    expect(partner.deletes.map((d) => [d.keyId, d.status]).sort()).toEqual(
      keys.map((key) => [key.partnerKeyId, 204]).sort(),
    );
    // The partner is told the pseudonym, never the user id.
    for (const sent of partner.deletes) {
      expect(sent.subject).toBe(pseudonymOf("intercom", SITES_AB.userId));
    }
    for (const key of keys) {
      expect(
        await within(
          WITHIN_MS,
          () => rowOf(key.keyId),
          (r) => r?.state === "ended",
        ),
      ).toEqual(expect.objectContaining({ endReason: "consent_revoked", endAttempts: 0 }));
    }
    const ends = audit.rows.filter(
      (entry) => "operation" in entry.row && entry.row.operation === "keys.delete",
    );
    expect(ends.filter((entry) => entry.kind === "partner.request")).toHaveLength(3);
    for (const entry of ends) {
      expect(entry.audit.actor).toBe("key-end-worker");
      expect(entry.row).toMatchObject({ userId: SITES_AB.userId, purpose: "guests" });
    }
  });

  test("the partner is down at the revoke: retried with the error kept, and deleted within 5 s of it coming back", async () => {
    await call("ab", "consent.grant", { purpose: "guests", noticeVersion: 1 });
    const { keyId, partnerKeyId } = await createKey(["door-a1"]);
    partner.setDown(true);
    await call("ab", "consent.revoke", { purpose: "guests" });
    expect(await listed()).toEqual([]);
    const failing = await within(
      WITHIN_MS,
      () => rowOf(keyId),
      (r) => (r?.endAttempts ?? 0) >= 2,
    );
    expect(failing).toMatchObject({
      state: "ending",
      endReason: "consent_revoked",
      endLastError: "partner_unavailable",
    });
    expect(partner.held()).toEqual([partnerKeyId]);

    partner.setDown(false);
    const backAt = Date.now();
    await within(WITHIN_MS, partner.held, (held) => held.length === 0);
    expect(Date.now() - backAt).toBeLessThan(WITHIN_MS);
    expect(
      await within(
        WITHIN_MS,
        () => rowOf(keyId),
        (r) => r?.state === "ended",
      ),
    ).toBeTruthy();
  });

  test("a token that no longer names a site: that site's keys leave the list at once and end at the partner; the others stay", async () => {
    const atA = await createKey(["door-a1"]);
    const atB = await createKey(["door-b1"]);
    expect((await listed()).sort()).toEqual([atA.keyId, atB.keyId].sort());
    expect(await listed("a")).toEqual([atA.keyId]);
    await within(WITHIN_MS, partner.held, (held) => !held.includes(atB.partnerKeyId));
    expect(partner.held()).toEqual([atA.partnerKeyId]);
    expect(await rowOf(atB.keyId)).toMatchObject({ endReason: "site_removed" });
    expect(await rowOf(atA.keyId)).toMatchObject({ state: "active" });
  });

  test("a block of the resident for abuse ends every key of theirs at the partner", async () => {
    const keys = [await createKey(["door-a1"]), await createKey(["door-b1"])];
    const { anomaly } = await recordAnomaly(database.db, {
      kind: "enumeration",
      subjectType: "resident",
      subjectId: SITES_AB.userId,
      windowStart: new Date(Math.floor(Date.now() / 600_000) * 600_000),
      windowSeconds: 600,
      count: 40,
      threshold: 20,
    });
    await placeBlock(database.db, anomaly, { baseSeconds: 900, maxSeconds: 3600 }, AUDIT);
    expect(await listed()).toEqual([]);
    await within(WITHIN_MS, partner.held, (held) => held.length === 0);
    for (const key of keys) {
      expect(
        await within(
          WITHIN_MS,
          () => rowOf(key.keyId),
          (r) => r?.state === "ended",
        ),
      ).toEqual(expect.objectContaining({ endReason: "blocked" }));
    }
  });

  test("a key whose door moved to another site ends at the partner; a key past its validity ends without a call", async () => {
    const moved = await createKey(["door-a1", "door-a2"]);
    const expired = await createKey(["door-a1"]);
    await database.db.execute(
      `update guest_keys set valid_from = now() - interval '3 hours', valid_until = now() - interval '1 second' where id = '${expired.keyId}'`,
    );
    const [a2] = DEVICES.filter((d) => d.id === "door-a2").map(
      ({ createdAt: _c, updatedAt: _u, ...record }) => record,
    );
    if (!a2) throw new Error("no door-a2");
    await upsertDevices(database.db, [{ ...a2, siteId: "site-b" }], AUDIT);
    try {
      await within(WITHIN_MS, partner.held, (held) => !held.includes(moved.partnerKeyId));
      expect(await rowOf(moved.keyId)).toMatchObject({ endReason: "site_removed" });
      expect(
        await within(
          WITHIN_MS,
          () => rowOf(expired.keyId),
          (r) => r?.state === "ended",
        ),
      ).toMatchObject({ endReason: "expired" });
      // The partner expires the code itself: no DELETE for it.
      expect(partner.deletes.map((d) => d.keyId)).toEqual([moved.partnerKeyId]);
    } finally {
      await upsertDevices(database.db, [a2], AUDIT);
    }
  });
});
