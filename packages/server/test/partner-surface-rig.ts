import { expect } from "bun:test";
import { Writable } from "node:stream";
import {
  createRateLimits,
  createWatch,
  type LimitName,
  type RateLimits,
  WATCH_RULES,
  type Watch,
  type WatchRule,
} from "@propgate/api";
import {
  type AuditContext,
  type AuditEvent,
  createBlockList,
  grantConsent,
  listAuditEvents,
  listCurrentNotices,
  placeBlock,
  recordAnomaly,
  rememberSubject,
  revokeConsent,
  upsertDevices,
} from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import {
  type AnomalyKind,
  type BlockSubjectType,
  PARTNERS,
  type Partner,
  type Purpose,
} from "@propgate/domain";
import { createLogger, createMetrics } from "@propgate/observability";
import { subjectFor } from "@propgate/partner-client";
import { parseCidrList } from "../src/net/cidr.ts";
import type { PartnerClientRecord, PartnerSurfaceSettings } from "../src/partner-surface/config.ts";
import type { PartnerSurfaceDeps } from "../src/partner-surface/context.ts";
import { createPartnerSurface } from "../src/partner-surface/surface.ts";

/**
 * One partner surface in process (`app.request()`, the peer address handed in as the server
 * would) over a fresh test database (PostgreSQL with DATABASE_URL, else PGlite), with the rate
 * limits, watch and block list an instance gives it, and every log line kept.
 */

/** The partners' VPN network, and the VPN address every test client is registered at. */
const ALLOWED_CIDRS = "10.80.0.0/24";
export const PEER = "10.80.0.2";
/** Inside the VPN network, but no client's registered address. */
export const OTHER_VPN_PEER = "10.80.0.9";
/** Outside the VPN network. */
export const OUTSIDER = "192.0.2.7";

export interface TestClient {
  clientId: string;
  secret: string;
}

const secret = (name: string) => `${name}-secret-${crypto.randomUUID()}`;
export const CLIENTS = {
  intercom: { clientId: "ic-gateway", secret: secret("ic") },
  barrier: { clientId: "br-gateway", secret: secret("br") },
  eventsOnly: { clientId: "ic-events", secret: secret("ev") },
} satisfies Record<string, TestClient>;

/** Cheap hashing parameters: the tests hash and verify often; production uses the defaults. */
const cheapHash = (text: string) =>
  Bun.password.hash(text, { algorithm: "argon2id", memoryCost: 4096, timeCost: 1 });

async function clientRecords(): Promise<PartnerClientRecord[]> {
  const addresses = parseCidrList(`${PEER}/32`);
  const both = ["access.check", "events.write"] as const;
  return [
    {
      clientId: CLIENTS.intercom.clientId,
      secretHash: await cheapHash(CLIENTS.intercom.secret),
      partner: "intercom",
      scopes: [...both],
      addresses,
    },
    {
      clientId: CLIENTS.barrier.clientId,
      secretHash: await Bun.password.hash(CLIENTS.barrier.secret, { algorithm: "bcrypt", cost: 4 }),
      partner: "barrier",
      scopes: [...both],
      addresses,
    },
    {
      clientId: CLIENTS.eventsOnly.clientId,
      secretHash: await cheapHash(CLIENTS.eventsOnly.secret),
      partner: "intercom",
      scopes: ["events.write"],
      addresses,
    },
  ];
}

/** Our devices, as `[id, kind, site, partner, the partner's id]`. */
const DEVICES = [
  ["door-a1", "door", "site-a", "intercom", "ic-a1"],
  ["door-a2", "door", "site-a", "intercom", "ic-a2"],
  ["door-b1", "door", "site-b", "intercom", "ic-b1"],
  ["cam-a1", "camera", "site-a", "intercom", "cam-a1"],
  ["gate-a", "gate", "site-a", "barrier", "bar-a"],
  ["gate-b", "gate", "site-b", "barrier", "bar-b"],
] as const;

const SEEDING: AuditContext = { sourceApp: "api", instanceId: "api-test", actor: "seed" };

/** Limits no test reaches unless it asks for a tighter one. */
function roomyPolicies(
  tighter: Partial<Record<LimitName, number>> = {},
): Record<LimitName, { quota: number; windowSeconds: number }> {
  const policy = (limit: LimitName) => ({ quota: tighter[limit] ?? 100_000, windowSeconds: 60 });
  return {
    ip: policy("ip"),
    resident: policy("resident"),
    admin: policy("admin"),
    open: policy("open"),
    partner_client: policy("partner_client"),
    partner_token_peer: policy("partner_token_peer"),
    partner_token_client: policy("partner_token_client"),
    outbound: policy("outbound"),
    privacy_report: policy("privacy_report"),
  };
}

/** Rules that do not fire in these tests, but `outside_vpn`, which fires on its first hit. */
function watchRules() {
  const rules = {} as Record<WatchRule, { threshold: number; windowSeconds: number }>;
  for (const rule of Object.keys(WATCH_RULES) as WatchRule[])
    rules[rule] = { threshold: rule === "outside_vpn" ? 1 : 100_000, windowSeconds: 600 };
  return rules;
}

type PartnerSurfaceApp = ReturnType<typeof createPartnerSurface>;
type LogLine = Record<string, unknown>;

export interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

/**
 * A refusal in the surface's one error shape `{ error: { code, message, requestId } }`, its
 * request id the answer's; with `message`, exactly that body.
 */
export function expectSurfaceError(answer: Answer, status: number, code: string, message?: string) {
  const requestId = answer.headers.get("x-request-id");
  expect({ status: answer.status, body: answer.json }).toMatchObject({
    status,
    body: { error: { code, message: message ?? expect.any(String), requestId } },
  });
  if (message) expect(answer.json).toEqual({ error: { code, message, requestId } });
}

export const FORM = { "content-type": "application/x-www-form-urlencoded" };

export function basic({ clientId, secret }: TestClient): string {
  return `Basic ${btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`)}`;
}

/** Requests to one surface app, from `PEER` unless told, with `headers` added when given. */
function callerOf(app: PartnerSurfaceApp) {
  async function send(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
    peer: string | null = PEER,
  ): Promise<Answer> {
    const response = await app.request(
      path,
      { method: init.method ?? "POST", headers: init.headers, body: init.body },
      { peerAddress: peer },
    );
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      json: text ? JSON.parse(text) : {},
    };
  }

  function tokenRequest(
    client: TestClient,
    extra: Record<string, string> = {},
    peer = PEER,
    headers: Record<string, string> = {},
  ) {
    return send(
      "/oauth/token",
      {
        headers: { ...headers, ...FORM, authorization: basic(client) },
        body: new URLSearchParams({ grant_type: "client_credentials", ...extra }).toString(),
      },
      peer,
    );
  }

  async function tokenFor(client: TestClient, scope?: string): Promise<string> {
    const answer = await tokenRequest(client, scope ? { scope } : {});
    expect(answer.status).toBe(200);
    return String(answer.json.access_token);
  }

  function postJson(
    path: string,
    token: string | null,
    body: unknown,
    peer: string | null = PEER,
    headers: Record<string, string> = {},
  ) {
    return send(
      path,
      {
        headers: {
          ...headers,
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: typeof body === "string" ? body : JSON.stringify(body),
      },
      peer,
    );
  }

  return { app, send, tokenRequest, tokenFor, postJson };
}

export type SurfaceRig = Awaited<ReturnType<typeof startSurfaceRig>>;

export async function startSurfaceRig() {
  const database: TestDatabase = await createTestDatabase();
  const logs: LogLine[] = [];
  const logger = createLogger({
    name: "api",
    level: "debug",
    destination: new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split("\n")) if (line) logs.push(JSON.parse(line));
        done();
      },
    }),
  });
  const metrics = createMetrics({ app: "api" });
  const blocks = await createBlockList(database);
  const audit: AuditContext = { sourceApp: "api", instanceId: "api-test", actor: "propgate" };
  const watch: Watch = createWatch(
    { rules: watchRules(), blockBaseSeconds: 900, blockMaxSeconds: 3600, keyPrefix: "test:" },
    { database, blocks, metrics, logger, audit },
  );
  const opened: RateLimits[] = [];
  /** In-memory limits, closed with the rig. */
  const rateLimits = (tighter: Partial<Record<LimitName, number>> = {}) => {
    const limits = createRateLimits(
      { policies: roomyPolicies(tighter), keyPrefix: "test:" },
      { metrics, logger },
    );
    opened.push(limits);
    return limits;
  };
  const deps = {
    database,
    logger,
    metrics,
    instanceId: "api-test",
    rateLimits: rateLimits(),
    watch,
  } satisfies PartnerSurfaceDeps;
  await upsertDevices(
    database.db,
    DEVICES.map(([id, kind, siteId, partner, partnerDeviceId]) => ({
      ...{ id, kind, siteId, partner, partnerDeviceId },
      name: `Test ${id}`,
    })),
    SEEDING,
  );
  const settings: PartnerSurfaceSettings = {
    allowedCidrs: parseCidrList(ALLOWED_CIDRS),
    clients: await clientRecords(),
    tokenTtlSeconds: 120,
    signingKey: null,
  };
  /** Another surface on these services, with its own signing key: its tokens are its own. */
  const surface = (
    overrides: Partial<PartnerSurfaceSettings> = {},
    services: Partial<PartnerSurfaceDeps> = {},
  ) => callerOf(createPartnerSurface({ ...deps, ...services }, { ...settings, ...overrides }));

  const subjectKeys = Object.fromEntries(
    PARTNERS.map((partner) => [partner, crypto.getRandomValues(new Uint8Array(32))]),
  ) as Record<Partner, Uint8Array>;
  /** What the api sends `partner` for this resident (and what the partner asks about). */
  const subjectAt = (partner: Partner, userId: string) => subjectFor(userId, subjectKeys[partner]);

  async function grant(userId: string, purposes: readonly Purpose[]) {
    const notices = await listCurrentNotices(database.db);
    for (const purpose of purposes) {
      const noticeVersion = notices.find((notice) => notice.purpose === purpose)?.version ?? 1;
      await grantConsent(
        database.db,
        { userId, purpose, noticeVersion, channel: "app", method: "in_app_toggle" },
        { ...SEEDING, actor: userId },
      );
    }
  }

  async function revoke(userId: string, purpose: Purpose) {
    await revokeConsent(
      database.db,
      { userId, purpose, channel: "app", method: "in_app_toggle", actor: userId },
      { ...SEEDING, actor: userId },
    );
  }

  /**
   * A resident as the api leaves them after a call to each partner: their subject remembered
   * with `sites`, and `purposes` granted.
   */
  async function resident(sites: string[] = ["site-a"], purposes: readonly Purpose[] = []) {
    const userId = `user-${crypto.randomUUID()}`;
    for (const partner of PARTNERS)
      await rememberSubject(database.db, {
        partner,
        subject: subjectAt(partner, userId),
        userId,
        sites,
      });
    await grant(userId, purposes);
    return userId;
  }

  /** A block in force on the subject now, as the watch places one, on every surface here. */
  async function block(subjectType: BlockSubjectType, subjectId: string, kind: AnomalyKind) {
    const { anomaly } = await recordAnomaly(database.db, {
      ...{ kind, subjectType, subjectId, windowStart: new Date(), windowSeconds: 60 },
      ...{ count: 2, threshold: 1 },
    });
    await placeBlock(database.db, anomaly, { baseSeconds: 900, maxSeconds: 3600 }, audit);
    await blocks.reload();
  }

  /** The value of a counter, summed over the series whose labels include `labels`. */
  async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const found = metrics.registry.getSingleMetric(name);
    if (!found) throw new Error(`no metric ${name}`);
    const { values } = await found.get();
    return values
      .filter((value) =>
        Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted),
      )
      .reduce((sum, value) => sum + value.value, 0);
  }

  async function auditRowFor(answer: Answer): Promise<AuditEvent | undefined> {
    const requestId = answer.headers.get("x-request-id");
    const rows = await listAuditEvents(database.db, { limit: 500 });
    return rows.find((row) => row.requestId === requestId);
  }

  return {
    ...callerOf(createPartnerSurface(deps, settings)),
    database,
    deps,
    logs,
    settings,
    surface,
    rateLimits,
    subjectAt,
    grant,
    revoke,
    resident,
    block,
    metric,
    auditRowFor,
    async close() {
      await watch.close();
      for (const limits of opened) await limits.close();
      await blocks.close();
      await database.close();
    },
  };
}
