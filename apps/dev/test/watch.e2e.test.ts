import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AppRouter } from "@propgate/api";
import { listAnomalies, listAuditEvents, listBlocks } from "@propgate/consent-audit";
import { createTRPCClient, httpLink } from "@trpc/client";
import {
  clearRecorders,
  errorOf,
  grant,
  HIGH_RATE_LIMITS,
  type Instance,
  startInstance,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";
import { requestFrom } from "./fixtures/request-from.ts";
import { createOfferMaker } from "./fixtures/webrtc-offer.ts";

/**
 * Issue 10's reactions, end to end: rules over windows find the offender, a block refuses it
 * on every instance (PostgreSQL and the blocks announcement), admins see and lift blocks.
 */

const hash = (secret: string) =>
  Bun.password.hash(secret, { algorithm: "argon2id", memoryCost: 4096, timeCost: 1 });
const CLIENTS = {
  intercom: { clientId: "ic-watch", secret: `ic-secret-${crypto.randomUUID()}` },
  barrier: { clientId: "br-watch", secret: `br-secret-${crypto.randomUUID()}` },
};

let dir: string;
let stack: TestStack;
let second: Instance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "propgate-watch-"));
  const clientsFile = join(dir, "partner-clients.json");
  writeFileSync(
    clientsFile,
    JSON.stringify([
      {
        clientId: CLIENTS.intercom.clientId,
        secretHash: await hash(CLIENTS.intercom.secret),
        partner: "intercom",
        scopes: ["access.check"],
        addresses: ["127.0.0.1"],
      },
      {
        clientId: CLIENTS.barrier.clientId,
        secretHash: await hash(CLIENTS.barrier.secret),
        partner: "barrier",
        scopes: ["access.check"],
        addresses: ["127.0.0.1"],
      },
    ]),
    { mode: 0o600 },
  );
  stack = await startTestStack({
    env: {
      ...HIGH_RATE_LIMITS,
      PARTNER_LISTEN: "127.0.0.1:0",
      PARTNER_ALLOWED_CIDRS: "127.0.0.0/8",
      PARTNER_CLIENTS_FILE: clientsFile,
      // The test is the proxy: its X-Forwarded-For names the client for per-IP rules.
      TRUST_PROXY_CIDRS: "127.0.0.1/32",
      BLOCK_BASE_SECONDS: "900",
    },
  });
  second = await startInstance(stack, "api-watch-b", HIGH_RATE_LIMITS);
});

afterAll(async () => {
  await second?.stop();
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function admin() {
  return stack.client(await stack.issuer.mint({ sub: "admin-watch", sites: [], admin: true }));
}

/** Waits until `check` holds, polling; fails with `what` after 5 s. */
async function eventually(what: string, check: () => Promise<boolean>) {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within 5 s: ${what}`);
    await Bun.sleep(20);
  }
}

function partnerTraffic() {
  return [...stack.sims.intercom.recorder.all(), ...stack.sims.barrier.recorder.all()];
}

describe("a resident trying devices it may not use", () => {
  test("is blocked on both instances before any partner call; others are not; a lift restores", async () => {
    const prober = await stack.resident("user-watch-prober");
    const neighbour = await stack.resident("user-watch-neighbour");
    await grant(prober, ["intercom"]);
    await grant(neighbour, ["intercom"]);
    const onB = second.client(prober.token);

    const causes: (string | null)[] = [];
    for (let i = 0; i < 50; i++) {
      const error = await errorOf(
        prober.trpc.intercom.openDoor.mutate({ deviceId: `door-zz${i}` }),
      );
      causes.push(error.cause);
      await stack.deps.watch.settle();
    }
    // Ten distinct refusals (the default threshold), then the block answers instead.
    expect(causes.slice(0, 10)).toEqual(Array(10).fill("FORBIDDEN_DEVICE"));
    expect(causes.slice(10)).toEqual(Array(40).fill("BLOCKED"));
    const [anomaly] = await listAnomalies(stack.database.db, {
      kind: "enumeration",
      subjectId: prober.userId,
    });
    expect(anomaly).toMatchObject({ subjectType: "resident", threshold: 10 });
    expect(anomaly?.blockId).toMatch(/^blk_/);
    // Logged once for its window, however many refusals followed.
    const logged = stack.logs.filter(
      (line) => line.msg === "anomaly detected" && line.subjectId === prober.userId,
    );
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      kind: "enumeration",
      subjectType: "resident",
      threshold: 10,
    });
    const metrics = await stack.deps.metrics.registry.metrics();
    expect(metrics).toMatch(/propgate_anomalies_total\{[^}]*kind="enumeration"[^}]*\} 1/);
    expect(metrics).toMatch(/propgate_blocks_active\{[^}]*subject_type="resident"[^}]*\} 1/);

    // Instance B learns of the block from the announcement.
    clearRecorders(stack);
    await eventually("instance B refuses the blocked resident", async () => {
      const error = await errorOf(onB.intercom.openDoor.mutate({ deviceId: "door-a1" })).catch(
        () => null,
      );
      return error?.cause === "BLOCKED";
    });
    const blocked = await errorOf(prober.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    expect(blocked).toMatchObject({ httpStatus: 403, cause: "BLOCKED" });
    expect(blocked.data.cause?.retryAfterSeconds).toBeGreaterThan(850);
    expect(blocked.data.cause?.retryAfterSeconds).toBeLessThanOrEqual(900);
    expect(partnerTraffic()).toHaveLength(0);
    // Consent stays the resident's to manage while blocked.
    expect((await prober.trpc.consent.list.query()).length).toBeGreaterThan(0);

    // Someone else's block changes nothing for the neighbour, on either instance.
    await neighbour.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    await second.client(neighbour.token).intercom.openDoor.mutate({ deviceId: "door-a1" });

    const client = await admin();
    const [block] = await client.admin.blocks.list.query({ subjectId: prober.userId });
    expect(block).toMatchObject({ kind: "enumeration", offence: 1, liftedAt: null });
    if (!block) throw new Error("no block listed");
    const firstSeconds = (Date.parse(block.expiresAt) - Date.parse(block.createdAt)) / 1000;
    expect(firstSeconds).toBe(900);
    expect(
      await errorOf(client.admin.blocks.lift.mutate({ blockId: block.id, reason: "" })),
    ).toMatchObject({ httpStatus: 400 });
    const lifted = await client.admin.blocks.lift.mutate({
      blockId: block.id,
      reason: "resident called: stale app cache",
    });
    expect(lifted).toMatchObject({
      liftedBy: "admin:admin-watch",
      liftReason: "resident called: stale app cache",
    });
    await eventually("instance B lets the resident open again", async () => {
      try {
        await onB.intercom.openDoor.mutate({ deviceId: "door-a1" });
        return true;
      } catch {
        return false;
      }
    });
    await prober.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    const audit = await listAuditEvents(stack.database.db, { kind: "admin.blocks.lift" });
    expect(audit[0]).toMatchObject({ actor: "admin-watch", target: block.id });

    // Lifting twice is refused: nothing in force by that id.
    expect(
      await errorOf(client.admin.blocks.lift.mutate({ blockId: block.id, reason: "again" })),
    ).toMatchObject({ httpStatus: 404 });
  });
});

describe("a blocked resident", () => {
  test("can revoke consent, end their own video session and read why and until when; opens still reach no partner", async () => {
    const resident = await stack.resident("user-watch-blocked");
    await grant(resident, ["intercom"]);
    await resident.trpc.consent.grant.mutate({ purpose: "video", noticeVersion: 1 });
    const offers = createOfferMaker();
    try {
      const sim = stack.sims.intercom;
      const before = new Set(sim.video.sessions().map((s) => s.sessionId));
      const session = await resident.trpc.video.createSession.mutate({
        cameraId: "cam-a1",
        offerSdp: await offers.makeOffer(),
      });
      const atPartner = sim.video.sessions().find((s) => !before.has(s.sessionId));
      if (!atPartner) throw new Error("the partner holds no new session");
      for (let i = 0; i < 10; i++) {
        await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: `door-yy${i}` }));
        await stack.deps.watch.settle();
      }
      clearRecorders(stack);
      const refused = await errorOf(
        resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }),
      );
      expect(refused).toMatchObject({ httpStatus: 403, cause: "BLOCKED" });
      // Why and until when: the kind in the message, the seconds left in the cause.
      expect(refused.message).toContain("enumeration");
      expect(refused.data.cause?.retryAfterSeconds).toBeGreaterThan(850);
      expect(refused.message).toContain(`${refused.data.cause?.retryAfterSeconds} s`);
      expect(partnerTraffic()).toHaveLength(0);
      const video = await errorOf(
        resident.trpc.video.createSession.mutate({ cameraId: "cam-a1", offerSdp: "v=0" }),
      );
      expect(video.cause).toBe("BLOCKED");

      // What is theirs stays theirs: the session they watch ends, at the partner too.
      expect(await resident.trpc.video.endSession.mutate({ sessionId: session.sessionId })).toEqual(
        {
          ended: true,
        },
      );
      const ended = sim.video.sessions().find((s) => s.sessionId === atPartner.sessionId);
      expect(ended?.state).toBe("closed");
      await resident.trpc.consent.revoke.mutate({ purpose: "intercom" });
      const consents = await resident.trpc.consent.list.query();
      expect(consents.find((consent) => consent.purpose === "intercom")?.state).toBe("revoked");
    } finally {
      await offers.close();
    }
  });
});

describe("a resident whose app retries opens through a revocation", () => {
  test("after re-grant opens, adds a plate and enrols a face; consent probing is recorded and counted, never a block", async () => {
    const resident = await stack.resident("user-watch-retries");
    await grant(resident, ["intercom"]);
    for (const purpose of ["plates", "faces"] as const)
      await resident.trpc.consent.grant.mutate({ purpose, noticeVersion: 1 });
    const before = await stack.deps.metrics.registry.getSingleMetricAsString(
      "propgate_anomalies_total",
    );
    // Four clients of the resident (phone, tablet, watch, web) keep opening while they revoke.
    let stop = false;
    const refusals: string[] = [];
    const app = async () => {
      while (!stop) {
        await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }).catch((error) => {
          refusals.push(String(error?.data?.cause?.code));
        });
      }
    };
    const clients = [app(), app(), app(), app()];
    await eventually("some opens were sent", async () => partnerTraffic().length > 0);
    await resident.trpc.consent.revoke.mutate({ purpose: "intercom" });
    await eventually(
      "25 refusals for want of consent",
      async () => refusals.filter((code) => code === "CONSENT_REQUIRED").length >= 25,
    );
    stop = true;
    await Promise.all(clients);
    await stack.deps.watch.settle();
    expect(new Set(refusals)).toEqual(new Set(["CONSENT_REQUIRED"]));

    const [anomaly] = await listAnomalies(stack.database.db, {
      kind: "consent_probing",
      subjectId: resident.userId,
    });
    expect(anomaly).toMatchObject({ subjectType: "resident", blockId: null });
    expect(anomaly?.count).toBeGreaterThanOrEqual(20);
    expect(await listBlocks(stack.database.db, { subjectId: resident.userId })).toEqual([]);
    const after = await stack.deps.metrics.registry.getSingleMetricAsString(
      "propgate_anomalies_total",
    );
    const probing = (text: string) =>
      Number(/kind="consent_probing"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    expect(probing(after)).toBe(probing(before) + 1);

    await grant(resident, ["intercom"]);
    await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    await resident.trpc.plates.add.mutate({ siteId: "site-a", plate: "A777AA77" });
    const jpeg = Buffer.concat([
      Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
      Buffer.alloc(64, 0x20),
      Buffer.from([0xff, 0xd9]),
    ]).toString("base64");
    await resident.trpc.faces.enroll.mutate({ image: jpeg });
  });
});

describe("repeated bad tokens from one client IP", () => {
  test("block that address's bad tokens only: residents and admins with valid tokens behind it go on", async () => {
    const resident = await stack.resident("user-watch-ip");
    await grant(resident, ["intercom"]);
    const operator = await stack.issuer.mint({ sub: "admin-watch-nat", sites: [], admin: true });
    const from = (ip: string, token: string) =>
      fetch(`${stack.api.url}/trpc/devices.list`, {
        headers: { authorization: `Bearer ${token}`, "x-forwarded-for": ip },
      });
    /** A tRPC client behind the same carrier NAT as the guesser. */
    const behind = (ip: string, token: string) =>
      createTRPCClient<AppRouter>({
        links: [
          httpLink({
            url: `${stack.api.url}/trpc`,
            headers: { authorization: `Bearer ${token}`, "x-forwarded-for": ip },
          }),
        ],
      });
    for (let i = 0; i < 30; i++) {
      const response = await from("203.0.113.7", `not-a-token-${i}`);
      expect(response.status).toBe(401);
    }
    await stack.deps.watch.settle();
    const [block] = await listBlocks(stack.database.db, { subjectType: "ip" });
    expect(block).toMatchObject({ subjectId: "203.0.113.7", kind: "credential_guessing" });

    // The 31st junk token is refused as blocked, before anything else of it is looked at.
    const refused = await from("203.0.113.7", "not-a-token-31");
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as {
      error: { data: { cause: { code: string; retryAfterSeconds: number } } };
    };
    expect(body.error.data.cause).toMatchObject({ code: "BLOCKED" });
    expect(body.error.data.cause.retryAfterSeconds).toBeGreaterThan(0);
    expect((await from("203.0.113.7", "")).status).toBe(403);

    // The residents and admins sharing the address are not the guesser.
    const nat = behind("203.0.113.7", resident.token);
    expect((await from("203.0.113.7", resident.token)).status).toBe(200);
    await nat.intercom.openDoor.mutate({ deviceId: "door-a1" });
    await nat.consent.revoke.mutate({ purpose: "intercom" });
    const admin = behind("203.0.113.7", operator);
    const listed = await admin.admin.blocks.list.query({ subjectType: "ip", activeOnly: true });
    expect(listed.map((b) => b.subjectId)).toContain("203.0.113.7");
    // A viewer sees the address's network only, as in the audit trail.
    const viewer = behind(
      "203.0.113.7",
      await stack.issuer.mint({ sub: "viewer-watch-nat", sites: [], role: "viewer" }),
    );
    const seen = await viewer.admin.blocks.list.query({ subjectType: "ip", activeOnly: true });
    expect(seen.map((b) => b.subjectId)).toEqual(listed.map(() => "203.0.x.x"));
    const anomalies = await viewer.admin.anomalies.list.query({ kind: "credential_guessing" });
    expect(anomalies.map((a) => a.subjectId)).toEqual(["203.0.x.x"]);
    // The admin app calls with the admin's token from its own address, forwarding the admin's.
    expect((await from("203.0.113.8", "not-a-token")).status).toBe(401);
  });
});

describe("a VPN peer guessing another partner's client secret", () => {
  /** A token request from `localAddress` (a loopback alias stands for a second VPN peer). */
  async function tokenFrom(localAddress: string, client: { clientId: string; secret: string }) {
    const answer = await requestFrom(localAddress, `${stack.partnerSurface?.url}/oauth/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`${client.clientId}:${client.secret}`)}`,
      },
      body: "grant_type=client_credentials",
    });
    return { status: answer.status, body: JSON.parse(answer.text) as Record<string, unknown> };
  }

  test("blocks the guessing peer; the partner, from its own address, keeps getting tokens and answering checks", async () => {
    const own = await tokenFrom("127.0.0.1", CLIENTS.intercom);
    expect(own.status).toBe(200);
    const held = String(own.body.access_token);

    // From another peer even the right secret is an unknown client: same answer as a wrong one.
    const rightSecretElsewhere = await tokenFrom("127.0.0.2", CLIENTS.intercom);
    expect(rightSecretElsewhere).toEqual({
      status: 401,
      body: { error: "invalid_client", error_description: "client authentication failed" },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const guess = await tokenFrom("127.0.0.2", {
        clientId: CLIENTS.intercom.clientId,
        secret: `guess-${i}`,
      });
      statuses.push(guess.status);
      await stack.deps.watch.settle();
    }
    // Ten failures for the one id (with the one above), then the peer is refused as blocked
    // (one more when the 5-minute window turns meanwhile: the sliding estimate rounds down).
    const first = statuses.indexOf(403);
    expect(first === 9 || first === 10).toBe(true);
    expect(statuses).toEqual([...Array(first).fill(401), ...Array(40 - first).fill(403)]);
    const blocks = await listBlocks(stack.database.db, { kind: "partner_credential_guessing" });
    expect(blocks.map((b) => [b.subjectType, b.subjectId])).toEqual([["ip", "127.0.0.2"]]);

    // The partner is untouched: new tokens, and its checks with the token it already held.
    const again = await tokenFrom("127.0.0.1", CLIENTS.intercom);
    expect(again.status).toBe(200);
    for (const accessToken of [held, String(again.body.access_token)]) {
      const check = await fetch(`${stack.partnerSurface?.url}/partner/v1/access-checks`, {
        method: "POST",
        headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
        body: JSON.stringify({
          subject: createHash("sha256").update("guess-victim").digest("base64url"),
          deviceId: "ic-a1",
          method: "key",
        }),
      });
      expect(check.status).toBe(200);
    }
    // A token of the partner's, carried to the guessing peer, is refused there.
    const stolen = await requestFrom(
      "127.0.0.3",
      `${stack.partnerSurface?.url}/partner/v1/access-checks`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${held}`, "content-type": "application/json" },
        body: JSON.stringify({ subject: "x".repeat(43), deviceId: "ic-a1", method: "key" }),
      },
    );
    expect(stolen.status).toBe(401);
  });
});

describe("a partner client sending mass access checks", () => {
  const subject = (i: number) => createHash("sha256").update(`watch-${i}`).digest("base64url");
  const base = () => {
    if (!stack.partnerSurface) throw new Error("no partner surface");
    return stack.partnerSurface.url;
  };
  async function token(client: { clientId: string; secret: string }) {
    const response = await fetch(`${base()}/oauth/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`${client.clientId}:${client.secret}`)}`,
      },
      body: "grant_type=client_credentials",
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }
  const check = (accessToken: string, i: number, deviceId = "ic-a1") =>
    fetch(`${base()}/partner/v1/access-checks`, {
      method: "POST",
      headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
      body: JSON.stringify({ subject: subject(i), deviceId, method: "key" }),
    });

  test("2,000 distinct subjects in a minute: an anomaly, then BLOCKED on checks and tokens; another client is unaffected", async () => {
    const issued = await token(CLIENTS.intercom);
    expect(issued.status).toBe(200);
    const accessToken = String(issued.json.access_token);
    let refusedAt = -1;
    for (let i = 0; i < 2000 && refusedAt < 0; i++) {
      const response = await check(accessToken, i);
      if (response.status === 403) refusedAt = i;
      else expect(response.status).toBe(200);
      await response.arrayBuffer();
      if (i % 100 === 99) await stack.deps.watch.settle();
    }
    await stack.deps.watch.settle();
    const [anomaly] = await listAnomalies(stack.database.db, { kind: "mass_access_checks" });
    expect(anomaly).toMatchObject({ subjectType: "partner_client", subjectId: "ic-watch" });
    expect(anomaly?.count).toBeGreaterThanOrEqual(200);

    const next = await check(accessToken, 5000);
    expect(next.status).toBe(403);
    expect(next.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(((await next.json()) as { error: { code: string } }).error.code).toBe("BLOCKED");
    const again = await token(CLIENTS.intercom);
    expect(again.status).toBe(403);
    expect((again.json.error as { code: string }).code).toBe("BLOCKED");

    const other = await token(CLIENTS.barrier);
    expect(other.status).toBe(200);
    const otherCheck = await check(String(other.json.access_token), 1, "bar-a");
    expect(otherCheck.status).toBe(200);

    // The admin lifts it; the client is served again.
    const client = await admin();
    const [block] = await client.admin.blocks.list.query({
      subjectType: "partner_client",
      activeOnly: true,
    });
    if (!block) throw new Error("no partner-client block listed");
    await client.admin.blocks.lift.mutate({ blockId: block.id, reason: "partner fixed its loop" });
    expect((await token(CLIENTS.intercom)).status).toBe(200);
    const anomalies = await client.admin.anomalies.list.query({ kind: "mass_access_checks" });
    expect(anomalies[0]?.subjectId).toBe("ic-watch");
  });
});

describe("metric labels", () => {
  test("after every rule above fired, no label holds a user id, a subject or an IP", async () => {
    const text = await stack.deps.metrics.registry.metrics();
    const values = [...text.matchAll(/="([^"]*)"/g)].map((match) => match[1] ?? "");
    expect(values.length).toBeGreaterThan(0);
    const personal = values.filter(
      (value) =>
        /^user-|^usr_/.test(value) ||
        /^\d{1,3}(\.\d{1,3}){3}$/.test(value) ||
        value.includes(":") ||
        /^[A-Za-z0-9_-]{43}$/.test(value),
    );
    expect(personal).toEqual([]);
    expect(text).toMatch(/propgate_anomalies_total\{[^}]*kind="credential_guessing"/);
    expect(text).toMatch(/propgate_blocks_placed_total\{[^}]*subject_type="ip"/);
  });
});
