import {
  afterAll,
  beforeAll,
  beforeEach,
  describe,
  expect,
  setDefaultTimeout,
  test,
} from "bun:test";
import type {
  AuditWriter,
  ConsentCache,
  DeviceCache,
  JournalWriter,
  SubjectRegistry,
} from "@propgate/consent-audit";
import { createTestDatabase, rowsOf, type TestDatabase } from "@propgate/consent-audit/testing";
import { TRACING_OFF } from "@propgate/observability";
import { createPartnerClient, keysOperations } from "@propgate/partner-client";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { createAdminReadLimits } from "../src/admin/read-limits.ts";
import type { AppDeps, Principal, Watch } from "../src/index.ts";
import { appRouter } from "../src/root.ts";
import { RequestTiming } from "../src/timing.ts";
import type { Context } from "../src/trpc.ts";
import {
  countingRateLimits,
  device,
  only,
  partnerCallServices,
  pseudonymOf,
  TEST_SETTINGS,
  tokenVerifier,
} from "./fake-services.ts";
import { observed } from "./fixtures/observed.ts";

setDefaultTimeout(60_000);

/**
 * `keys.*` in process: tRPC's fetch handler, a real database for `guest_keys`, fakes of the
 * consent, audit and device services, and the intercom's real client over a stub partner that
 * records exactly what reached it (and is idempotent on Idempotency-Key, as the contract says).
 */

const ANNA: Principal = { userId: "resident-anna", sites: ["site-a"], units: [], adminRole: null };
const DEVICES = [
  device({ id: "door-a1", kind: "door", siteId: "site-a", partner: "intercom" }),
  device({ id: "door-a2", kind: "door", siteId: "site-a", partner: "intercom" }),
  device({ id: "gate-a", kind: "gate", siteId: "site-a", partner: "barrier" }),
  device({ id: "door-b1", kind: "door", siteId: "site-b", partner: "intercom" }),
];
const HOUR = 3_600_000;

interface PartnerRequest {
  method: string;
  url: string;
  idempotencyKey: string | null;
  body: unknown;
}

/** The intercom partner for keys: records each request, one key per Idempotency-Key. */
function stubPartner() {
  const requests: PartnerRequest[] = [];
  const byKey = new Map<string, { body: string; answer: unknown }>();
  let issued = 0;
  const client = createPartnerClient({
    name: "intercom",
    baseUrl: new URL("https://intercom.test/api/"),
    tokenSource: { getToken: async () => "partner-token" },
    fetch: async (input, init) => {
      const headers = new Headers(init?.headers);
      const body = typeof init?.body === "string" ? JSON.parse(init.body) : null;
      const idempotencyKey = headers.get("idempotency-key");
      requests.push({ method: init?.method ?? "GET", url: String(input), idempotencyKey, body });
      if (init?.method === "POST") {
        const known = idempotencyKey ? byKey.get(idempotencyKey) : undefined;
        // As a partner does: one Idempotency-Key, one request; another body under it is refused.
        if (known && known.body !== init.body) {
          return Response.json({ error: "idempotency_key_reused" }, { status: 422 });
        }
        const answer = known?.answer ?? {
          keyId: `pk-${++issued}`,
          code: `7${String(issued).padStart(7, "0")}`,
          qr: `QR-${issued}`,
          validFrom: body.validFrom,
          validUntil: body.validUntil,
        };
        if (idempotencyKey) byKey.set(idempotencyKey, { body: String(init.body), answer });
        return Response.json(answer, { status: 201 });
      }
      return new Response(null, { status: 204 });
    },
    timeoutMs: 2000,
  });
  return { keys: keysOperations(client), requests, issuedCount: () => issued };
}

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.close());

let partner: ReturnType<typeof stubPartner>;
let deps: AppDeps;
let consent: ReturnType<typeof partnerCallServices>["consent"];
let logLines: unknown[];
beforeEach(async () => {
  await database.db.execute("delete from guest_keys");
  partner = stubPartner();
  const fakes = partnerCallServices(DEVICES);
  consent = fakes.consent;
  consent.grant(ANNA.userId, "guests");
  const { logger, logs } = observed();
  logLines = logs;
  deps = {
    settings: { ...TEST_SETTINGS, guestKeys: { maxHours: 72, maxActive: 3 } },
    tracing: TRACING_OFF,
    database,
    auditWriter: only<AuditWriter>("auditWriter", fakes.services.auditWriter),
    journalWriter: only<JournalWriter>("journalWriter"),
    watch: only<Watch>("watch", fakes.services.watch),
    adminReads: createAdminReadLimits({
      readStatementTimeoutMs: 100,
      auditStatementTimeoutMs: 100,
    }),
    logger,
    metrics: fakes.services.metrics,
    verifier: tokenVerifier({ anna: ANNA }),
    partners: only<AppDeps["partners"]>("partners", {
      intercom: only<AppDeps["partners"]["intercom"]>("intercom", { keys: partner.keys }),
    }),
    devices: only<DeviceCache>("devices", fakes.services.devices),
    consents: only<ConsentCache>("consents", fakes.services.consents),
    subjects: only<SubjectRegistry>("subjects", fakes.services.subjects),
    units: { confirm: async () => {} },
    inflight: fakes.services.inflight,
    rateLimits: countingRateLimits(),
    journalEvents: only("journalEvents"),
    receiptSigner: null,
  };
});

async function call(path: string, input?: unknown, mutation = true) {
  const url = new URL(`http://api.test/trpc/${path}`);
  if (!mutation && input !== undefined) url.searchParams.set("input", JSON.stringify(input));
  const request = mutation
    ? new Request(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(input ?? {}),
      })
    : new Request(url);
  const context: Context = {
    deps,
    requestId: "req-keys",
    clientIp: "198.51.100.7",
    clientAddress: "198.51.100.7",
    authorization: "Bearer anna",
    responseHeaders: new Headers(),
    timing: new RequestTiming(),
  };
  const response = await fetchRequestHandler({
    endpoint: "/trpc",
    req: request,
    router: appRouter,
    createContext: () => context,
  });
  const body = (await response.json()) as {
    result?: { data: unknown };
    error?: { data: { cause: { code: string } } };
  };
  const data = body.result?.data as Record<string, unknown> | undefined;
  return { status: response.status, data, cause: body.error?.data.cause };
}

const twoHours = () => new Date(Date.now() + 2 * HOUR).toISOString();

describe("keys", () => {
  test("a key for two doors: the partner gets exactly the contract's body; the code comes once", async () => {
    const created = await call("keys.create", {
      deviceIds: ["door-a1", "door-a2"],
      validUntil: twoHours(),
      label: "  Courier  ",
    });
    expect(created.status).toBe(200);
    expect(created.data).toMatchObject({
      siteId: "site-a",
      deviceIds: ["door-a1", "door-a2"],
      label: "Courier",
      code: "70000001",
      qr: "QR-1",
    });
    expect(partner.requests).toHaveLength(1);
    const [sent] = partner.requests;
    expect(sent?.method).toBe("POST");
    expect(sent?.url).toBe("https://intercom.test/api/v1/sites/site-a/keys");
    expect(Object.keys(sent?.body as object).sort()).toEqual([
      "devices",
      "subject",
      "validFrom",
      "validUntil",
    ]);
    expect(sent?.body).toMatchObject({
      subject: pseudonymOf("intercom", ANNA.userId),
      devices: ["partner-door-a1", "partner-door-a2"],
    });
    expect(JSON.stringify(sent)).not.toContain(ANNA.userId);

    const listed = await call("keys.list", undefined, false);
    expect(listed.data as unknown).toEqual([
      expect.objectContaining({ keyId: created.data?.keyId, label: "Courier" }),
    ]);
    expect(JSON.stringify(listed.data)).not.toContain("70000001");
    // Nowhere in the database or the logs.
    const dump = await database.db.execute("select row_to_json(k)::text as row from guest_keys k");
    expect(JSON.stringify(dump)).not.toContain("70000001");
    expect(JSON.stringify(dump)).not.toContain("QR-1");
    expect(JSON.stringify(logLines)).not.toContain("70000001");
  });

  test("refusals reach no partner: another site, a gate, too long, a bad label, no consent, past the limit", async () => {
    const refused = async (input: Record<string, unknown>, code: string) => {
      const answer = await call("keys.create", { validUntil: twoHours(), ...input });
      expect({ input, code: answer.cause?.code }).toEqual({ input, code });
    };
    await refused({ deviceIds: ["door-b1"] }, "FORBIDDEN_DEVICE");
    await refused({ deviceIds: ["gate-a"] }, "FORBIDDEN_DEVICE");
    await refused(
      { deviceIds: ["door-a1"], validUntil: new Date(Date.now() + 73 * HOUR).toISOString() },
      "INVALID_INPUT",
    );
    await refused({ deviceIds: ["door-a1"], label: "x".repeat(41) }, "INVALID_INPUT");
    await refused({ deviceIds: ["door-a1"], label: "bell\u0007" }, "INVALID_INPUT");
    consent.revoke(ANNA.userId, "guests");
    await refused({ deviceIds: ["door-a1"] }, "CONSENT_REQUIRED");
    consent.grant(ANNA.userId, "guests");
    expect(partner.requests).toEqual([]);

    for (let i = 0; i < 3; i++) {
      expect(
        (await call("keys.create", { deviceIds: ["door-a1"], validUntil: twoHours() })).status,
      ).toBe(200);
    }
    await refused({ deviceIds: ["door-a1"] }, "RATE_LIMITED");
    expect(partner.requests).toHaveLength(3);
  });

  test("creates at once past the active limit: the ones past it are ended again and refused", async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        call("keys.create", { deviceIds: ["door-a1"], validUntil: twoHours() }),
      ),
    );
    const made = answers.filter((answer) => answer.status === 200);
    expect(made).toHaveLength(3);
    expect(answers.filter((answer) => answer.cause?.code === "RATE_LIMITED")).toHaveLength(3);
    const listed = (await call("keys.list", undefined, false)).data as unknown as Array<{
      keyId: string;
    }>;
    expect(listed.map((key) => key.keyId).sort()).toEqual(
      made.map((answer) => String(answer.data?.keyId)).sort(),
    );
    // Every key the partner issued past the limit is on its way out there, none left active.
    const ended = await database.db.execute(
      "select state, end_reason from guest_keys where state <> 'active'",
    );
    expect(rowsOf(ended)).toEqual(
      Array(partner.issuedCount() - 3).fill({ state: "ending", end_reason: "over_limit" }),
    );
  });

  test("a retried create with one idempotency key makes one key at the partner and here", async () => {
    const input = {
      deviceIds: ["door-a1"],
      validUntil: twoHours(),
      idempotencyKey: "retry-key-0001",
    };
    const first = await call("keys.create", input);
    const again = await call("keys.create", input);
    expect(again.data).toEqual(first.data);
    expect(partner.issuedCount()).toBe(1);
    expect(new Set(partner.requests.map((r) => r.idempotencyKey)).size).toBe(1);
    expect(partner.requests[0]?.idempotencyKey).not.toContain("retry-key-0001");
    expect((await call("keys.list", undefined, false)).data).toHaveLength(1);
  });

  test("a retry without validFrom asks the partner for the same key, not a new now", async () => {
    const input = {
      deviceIds: ["door-a1"],
      validUntil: twoHours(),
      idempotencyKey: "retry-key-0002",
    };
    const first = await call("keys.create", input);
    await Bun.sleep(5); // another millisecond: a new "now" would change the body
    const again = await call("keys.create", input);
    expect(again.cause).toBeUndefined();
    expect(again.data).toEqual(first.data);
    const bodies = partner.requests.filter(
      (r) => r.idempotencyKey === partner.requests[0]?.idempotencyKey,
    );
    expect(bodies.map((r) => r.body)).toEqual([bodies[0]?.body, bodies[0]?.body]);
  });

  test("revoke: gone from the list at once, queued for the partner; another's key is not found", async () => {
    const created = await call("keys.create", { deviceIds: ["door-a1"], validUntil: twoHours() });
    const keyId = created.data?.keyId;
    expect((await call("keys.revoke", { keyId })).data).toEqual({ revoked: true });
    expect((await call("keys.list", undefined, false)).data as unknown).toEqual([]);
    expect((await call("keys.revoke", { keyId })).cause?.code).toBe("NOT_FOUND");
    const [row] = rowsOf(
      await database.db.execute(
        `select state, end_reason from guest_keys where id = '${String(keyId)}'`,
      ),
    );
    expect(row).toEqual({ state: "ending", end_reason: "resident" });
  });
});
