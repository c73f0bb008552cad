import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listAnomalies, listAuditEvents, listBlocks } from "@propgate/consent-audit";
import {
  clearRecorders,
  errorOf,
  grant,
  HIGH_RATE_LIMITS,
  type Instance,
  startInstance,
  startTestStack,
  type TestStack,
} from "./harness.ts";

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
      },
      {
        clientId: CLIENTS.barrier.clientId,
        secretHash: await hash(CLIENTS.barrier.secret),
        partner: "barrier",
        scopes: ["access.check"],
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
  test("is blocked on both instances before any partner call; others are not; a lift restores; a second offence blocks twice as long", async () => {
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

    // The same window is still over its threshold: the next refusals record no second block
    // until the next window; a new anomaly in a later window (here: consent probing) does.
    await prober.trpc.consent.revoke.mutate({ purpose: "intercom" });
    for (let i = 0; i < 20; i++) {
      const error = await errorOf(prober.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }));
      expect(error.cause).toBe("CONSENT_REQUIRED");
    }
    await stack.deps.watch.settle();
    const blocks = await listBlocks(stack.database.db, { subjectId: prober.userId });
    expect(blocks.map((b) => [b.kind, b.offence])).toEqual([
      ["consent_probing", 2],
      ["enumeration", 1],
    ]);
    const again = blocks[0];
    if (!again) throw new Error("no second block");
    expect((Date.parse(again.expiresAt) - Date.parse(again.createdAt)) / 1000).toBe(1800);
  });
});

describe("repeated bad tokens from one client IP", () => {
  test("block that IP before authentication, and no other", async () => {
    const resident = await stack.resident("user-watch-ip");
    await grant(resident, ["intercom"]);
    const from = (ip: string, token: string) =>
      fetch(`${stack.api.url}/trpc/devices.list`, {
        headers: { authorization: `Bearer ${token}`, "x-forwarded-for": ip },
      });
    for (let i = 0; i < 30; i++) {
      const response = await from("203.0.113.7", `not-a-token-${i}`);
      expect(response.status).toBe(401);
    }
    await stack.deps.watch.settle();
    // Even a good token is refused from that address now, before it is checked.
    const refused = await from("203.0.113.7", resident.token);
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as {
      error: { data: { cause: { code: string; retryAfterSeconds: number } } };
    };
    expect(body.error.data.cause).toMatchObject({ code: "BLOCKED" });
    expect(body.error.data.cause.retryAfterSeconds).toBeGreaterThan(0);
    expect((await from("203.0.113.8", resident.token)).status).toBe(200);
    const [block] = await listBlocks(stack.database.db, { subjectType: "ip" });
    expect(block).toMatchObject({ subjectId: "203.0.113.7", kind: "credential_guessing" });
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
