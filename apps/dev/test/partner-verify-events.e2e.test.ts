import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listAuditEvents } from "@propgate/consent-audit";
import { startTestStack, type TestStack } from "../src/testing/harness.ts";

/**
 * `propgate partner verify intercom --surface <url>`: the partner's side of the events on our
 * partner surface, as a child process with the partner's surface client. Against the real
 * surface every event row passes (and lands in the audit trail); against a surface that takes
 * anything, `events.strict` fails.
 */
const CLI = `${import.meta.dir}/../../cli/src/main.ts`;
const SURFACE_CLIENT = { clientId: "ic-verify", secret: `ic-verify-${crypto.randomUUID()}` };
const EVENT_CHECKS = [
  "events.call.incoming",
  "events.call.ended",
  "events.access.granted",
  "events.access.denied",
  "events.strict",
];

let dir: string;
let stack: TestStack;
let lax: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "propgate-verify-events-"));
  const clientsFile = join(dir, "partner-clients.json");
  const secretHash = await Bun.password.hash(SURFACE_CLIENT.secret, {
    algorithm: "argon2id",
    memoryCost: 4096,
    timeCost: 1,
  });
  const client = { clientId: SURFACE_CLIENT.clientId, secretHash, partner: "intercom" };
  writeFileSync(
    clientsFile,
    JSON.stringify([{ ...client, scopes: ["events.write"], addresses: ["127.0.0.1"] }]),
    { mode: 0o600 },
  );
  stack = await startTestStack({
    env: {
      PARTNER_LISTEN: "127.0.0.1:0",
      PARTNER_ALLOWED_CIDRS: "127.0.0.0/8",
      PARTNER_CLIENTS_FILE: clientsFile,
    },
  });
  // A broken surface: a token for anyone, 202 for any body.
  lax = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) =>
      new URL(request.url).pathname === "/oauth/token"
        ? Response.json({ access_token: "lax", token_type: "Bearer", expires_in: 300 })
        : Response.json(
            { status: "accepted", eventId: "evt_0000000000000000000a" },
            { status: 202 },
          ),
  });
});
afterAll(async () => {
  await lax?.stop(true);
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Row {
  check: string;
  status: "pass" | "fail" | "skip";
  detail: string;
}

async function verify(surfaceUrl: string, secret = SURFACE_CLIENT.secret) {
  const partnerVars = Object.fromEntries(
    Object.entries(stack.env).filter(([name]) => name.startsWith("PARTNER_INTERCOM_")),
  );
  const child = Bun.spawn(
    [
      ...[process.execPath, CLI, "partner", "verify", "intercom"],
      ...["--device", "ic-a1", "--surface", surfaceUrl, "--json"],
    ],
    {
      env: {
        PATH: process.env.PATH ?? "",
        PROPGATE_ENV: "development",
        ...partnerVars,
        PARTNER_SURFACE_CLIENT_ID: SURFACE_CLIENT.clientId,
        PARTNER_SURFACE_CLIENT_SECRET: secret,
      },
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  const [code, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  expect(stdout + stderr).not.toContain(SURFACE_CLIENT.secret);
  if (!stdout.trim()) throw new Error(`no report (exit ${code}): ${stderr}`);
  const rows = new Map(
    (JSON.parse(stdout) as { checks: Row[] }).checks.map((row) => [row.check, row]),
  );
  return { code, rows };
}

const eventStatuses = (rows: Map<string, Row>) =>
  Object.fromEntries(EVENT_CHECKS.map((check) => [check, rows.get(check)?.status]));

describe("partner verify --surface", () => {
  test("against Propgate's surface: each call and access event accepted, the unknown field refused", async () => {
    const surface = stack.partnerSurface;
    if (!surface) throw new Error("the stack started without its partner surface");
    const { code, rows } = await verify(surface.url);
    expect(eventStatuses(rows)).toEqual(
      Object.fromEntries(EVENT_CHECKS.map((check) => [check, "pass"])),
    );
    expect(code).toBe(0);
    const audited = await listAuditEvents(stack.database.db, { kind: "partner.event" });
    expect(audited.map((row) => row.operation).sort()).toEqual([
      "access.denied",
      "access.granted",
      "call.ended",
      "call.incoming",
    ]);
    expect(audited.every((row) => row.target === "door-a1")).toBe(true);
  });

  test("a surface that takes any body fails events.strict; a wrong secret fails every event row", async () => {
    const lenient = await verify(`http://127.0.0.1:${lax.port}`);
    expect(eventStatuses(lenient.rows)).toMatchObject({
      "events.call.incoming": "pass",
      "events.strict": "fail",
    });
    expect(lenient.code).toBe(1);

    const surface = stack.partnerSurface;
    if (!surface) throw new Error("the stack started without its partner surface");
    const refused = await verify(surface.url, "not-the-secret");
    expect(eventStatuses(refused.rows)).toEqual(
      Object.fromEntries(EVENT_CHECKS.map((check) => [check, "fail"])),
    );
    expect(refused.rows.get("events.strict")?.detail).toContain("HTTP 401");
  });
});
