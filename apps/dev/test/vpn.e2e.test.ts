import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVpnCollector, type VpnConnectionEvent } from "@propgate/health-probe";
import { subjectFor } from "@propgate/partner-client";
import { type Child, spawnChild } from "../src/testing/processes.ts";

/**
 * The perimeter on a real network: three network namespaces made here — the api, a partner and
 * an "outside" host — joined by veth links, a WireGuard tunnel (userspace wireguard-go) between
 * the api and the partner, the repo's nftables ruleset loaded into the api's namespace, and the
 * api's partner surface running inside it on its VPN address. Nothing touches the host's own
 * network: every address below exists only inside these namespaces, which are deleted at the end.
 *
 *   partner 192.168.201.2 ─veth─ 192.168.201.1  api  192.168.202.1 ─veth─ 192.168.202.2 outside
 *   partner 10.80.0.2 ══════ WireGuard ═══════ 10.80.0.1 (partner surface :8443)
 */

const RUN = crypto.randomUUID().replaceAll("-", "").slice(0, 6);
const NS = { api: `pgv${RUN}api`, partner: `pgv${RUN}prt`, outside: `pgv${RUN}out` };
/** Distinct names: wireguard-go's control sockets share /var/run/wireguard across namespaces. */
const WG = { api: `pgw${RUN}a`, partner: `pgw${RUN}p` };
const VETH = {
  apiToPartner: `pgv${RUN}ap`,
  partnerToApi: `pgv${RUN}pa`,
  apiToOutside: `pgv${RUN}ao`,
  outsideToApi: `pgv${RUN}oa`,
};
const ADDR = {
  apiUnderlayP: "192.168.201.1",
  partnerUnderlay: "192.168.201.2",
  apiUnderlayO: "192.168.202.1",
  outsideUnderlay: "192.168.202.2",
  apiVpn: "10.80.0.1",
  partnerVpn: "10.80.0.2",
};
const VPN_CIDR = "10.80.0.0/24";
const WG_PORT = 51820;
const PARTNER_PORT = 8443;
const SURFACE = `http://${ADDR.apiVpn}:${PARTNER_PORT}`;
const COMMAND_TIMEOUT_MS = 10_000;
/** How long an outside request may wait for an answer the firewall never lets through. */
const BLOCKED_TIMEOUT_MS = 2000;
const RULESET = join(import.meta.dir, "../../../infra/firewall/partner-surface.nft");
const FIXTURES = join(import.meta.dir, "fixtures");
const BUN = process.execPath;

/** Why the bed cannot run here, or null. Run as root with iproute2, wireguard-go, wg and nft. */
function missingPrerequisite(): string | null {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "network namespaces and WireGuard need root";
  for (const tool of ["ip", "wireguard-go", "wg", "nft"]) {
    if (!Bun.which(tool)) return `${tool} is not installed`;
  }
  if (!existsSync("/dev/net/tun")) return "/dev/net/tun is missing (wireguard-go needs TUN)";
  const probe = `pgv${RUN}chk`;
  const add = Bun.spawnSync(["ip", "netns", "add", probe], { stderr: "pipe" });
  if (add.exitCode !== 0) return `ip netns add failed: ${add.stderr.toString().trim()}`;
  const nft = Bun.spawnSync(["ip", "netns", "exec", probe, "nft", "list", "ruleset"], {
    stderr: "pipe",
  });
  Bun.spawnSync(["ip", "netns", "del", probe]);
  if (nft.exitCode !== 0)
    return `nft does not work in a namespace: ${nft.stderr.toString().trim()}`;
  return null;
}

const missing = missingPrerequisite();
if (missing && !process.env.CI) {
  console.warn(
    `[skip] VPN test bed: ${missing} (scripts/install-system-tools.sh installs the tools; run as root)`,
  );
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command with a deadline; a non-zero exit throws unless `allowFailure`. */
async function run(
  argv: string[],
  options: { stdin?: string; allowFailure?: boolean; timeoutMs?: number } = {},
): Promise<RunResult> {
  const child = Bun.spawn(argv, {
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? COMMAND_TIMEOUT_MS);
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  if (code !== 0 && !options.allowFailure) {
    throw new Error(`${argv.join(" ")} exited ${code}: ${stderr.trim()}`);
  }
  return { code, stdout, stderr };
}

const inNs = (ns: string, ...argv: string[]) => run(["ip", "netns", "exec", ns, ...argv]);

/** Polls `check` until it is true or the deadline passes. */
async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

/** Waits for a process to exit, killing it hard if SIGTERM is not enough within the deadline. */
async function stopProcess(proc: {
  exitCode: number | null;
  kill(signal?: number | NodeJS.Signals): void;
  exited: Promise<number>;
}) {
  if (proc.exitCode !== null) return;
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
  await proc.exited;
  clearTimeout(timer);
}

interface RequestOutcome {
  status?: number;
  body?: unknown;
  error?: string;
}

/** One HTTP request made from inside a namespace (a separate process, its own network stack). */
async function requestFrom(
  ns: string,
  spec: { url: string; headers?: Record<string, string>; body?: string; timeoutMs: number },
): Promise<RequestOutcome> {
  const result = await run(
    ["ip", "netns", "exec", ns, BUN, join(FIXTURES, "vpn-request.ts"), JSON.stringify(spec)],
    { timeoutMs: spec.timeoutMs + COMMAND_TIMEOUT_MS },
  );
  return JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as RequestOutcome;
}

async function refusedPackets(): Promise<number> {
  const result = await inNs(NS.api, "nft", "-j", "list", "counter", "inet", "propgate", "refused");
  const json = JSON.parse(result.stdout) as {
    nftables: Array<{ counter?: { name: string; packets: number } }>;
  };
  const counter = json.nftables.find((item) => item.counter?.name === "refused")?.counter;
  if (!counter) throw new Error("no counter refused in the api namespace");
  return counter.packets;
}

/** The repo's ruleset with its `define` lines set to this bed's interface, port and network. */
function rulesetForBed(): string {
  const defines: Record<string, string> = {
    WG_IFACE: `"${WG.api}"`,
    WG_PORT: String(WG_PORT),
    VPN_CIDR,
    PARTNER_PORT: String(PARTNER_PORT),
  };
  let text = readFileSync(RULESET, "utf8");
  for (const [name, value] of Object.entries(defines)) {
    const line = new RegExp(`^define ${name} = \\S+`, "m");
    if (!line.test(text)) throw new Error(`${RULESET} has no "define ${name} = …" line`);
    text = text.replace(line, `define ${name} = ${value}`);
  }
  return text;
}

let dir = "";
const vpnLog: VpnConnectionEvent[] = [];
let vpnCollector: ReturnType<typeof createVpnCollector>;
const wireguards: Array<ReturnType<typeof Bun.spawn>> = [];
let surface: Child | undefined;
const CLIENT = { clientId: "ic-gateway", secret: `vpn-secret-${crypto.randomUUID()}` };
const RESIDENT = { userId: `user-vpn-${RUN}`, sites: ["site-a"] };
const SUBJECT_KEY = Buffer.from(crypto.getRandomValues(new Uint8Array(32)));

async function startWireGuard(ns: string, ifname: string): Promise<void> {
  // Foreground (-f), so this process is wireguard-go itself and cleanup can stop it by pid.
  const wg = Bun.spawn(["ip", "netns", "exec", ns, "wireguard-go", "-f", ifname], {
    env: { ...process.env, LOG_LEVEL: "error" },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  wireguards.push(wg);
  await until(`${ifname}'s control socket`, () => {
    if (wg.exitCode !== null) throw new Error(`wireguard-go ${ifname} exited ${wg.exitCode}`);
    return existsSync(`/var/run/wireguard/${ifname}.sock`);
  });
}

async function keyPair(name: string): Promise<{ file: string; publicKey: string }> {
  const privateKey = (await run(["wg", "genkey"])).stdout.trim();
  const file = join(dir, `${name}.key`);
  writeFileSync(file, `${privateKey}\n`, { mode: 0o600 });
  const publicKey = (await run(["wg", "pubkey"], { stdin: `${privateKey}\n` })).stdout.trim();
  return { file, publicKey };
}

async function buildBed(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), "propgate-vpn-"));
  for (const ns of Object.values(NS)) {
    await run(["ip", "netns", "add", ns]);
    await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
  }
  const link = async (
    a: string,
    aNs: string,
    aAddr: string,
    b: string,
    bNs: string,
    bAddr: string,
  ) => {
    await run([
      "ip",
      "link",
      "add",
      a,
      "netns",
      aNs,
      "type",
      "veth",
      "peer",
      "name",
      b,
      "netns",
      bNs,
    ]);
    await run(["ip", "-n", aNs, "addr", "add", `${aAddr}/30`, "dev", a]);
    await run(["ip", "-n", bNs, "addr", "add", `${bAddr}/30`, "dev", b]);
    await run(["ip", "-n", aNs, "link", "set", a, "up"]);
    await run(["ip", "-n", bNs, "link", "set", b, "up"]);
  };
  await link(
    VETH.apiToPartner,
    NS.api,
    ADDR.apiUnderlayP,
    VETH.partnerToApi,
    NS.partner,
    ADDR.partnerUnderlay,
  );
  await link(
    VETH.apiToOutside,
    NS.api,
    ADDR.apiUnderlayO,
    VETH.outsideToApi,
    NS.outside,
    ADDR.outsideUnderlay,
  );
  // The outside host knows where the VPN addresses live and tries them over the underlay.
  await run(["ip", "-n", NS.outside, "route", "add", VPN_CIDR, "via", ADDR.apiUnderlayO]);

  await startWireGuard(NS.api, WG.api);
  await startWireGuard(NS.partner, WG.partner);
  const apiKey = await keyPair("api");
  const partnerKey = await keyPair("partner");
  await inNs(
    NS.api,
    "wg",
    "set",
    WG.api,
    "private-key",
    apiKey.file,
    "listen-port",
    String(WG_PORT),
    "peer",
    partnerKey.publicKey,
    "allowed-ips",
    `${ADDR.partnerVpn}/32`,
  );
  await inNs(
    NS.partner,
    "wg",
    "set",
    WG.partner,
    "private-key",
    partnerKey.file,
    "peer",
    apiKey.publicKey,
    "allowed-ips",
    `${ADDR.apiVpn}/32`,
    "endpoint",
    `${ADDR.apiUnderlayP}:${WG_PORT}`,
    "persistent-keepalive",
    "25",
  );
  await run(["ip", "-n", NS.api, "addr", "add", `${ADDR.apiVpn}/24`, "dev", WG.api]);
  await run(["ip", "-n", NS.api, "link", "set", WG.api, "up"]);
  await run(["ip", "-n", NS.partner, "addr", "add", `${ADDR.partnerVpn}/24`, "dev", WG.partner]);
  await run(["ip", "-n", NS.partner, "link", "set", WG.partner, "up"]);

  const rules = join(dir, "partner-surface.nft");
  writeFileSync(rules, rulesetForBed());
  await inNs(NS.api, "nft", "-f", rules);

  const clients = join(dir, "partner-clients.json");
  writeFileSync(
    clients,
    JSON.stringify([
      {
        clientId: CLIENT.clientId,
        secretHash: await Bun.password.hash(CLIENT.secret, {
          algorithm: "argon2id",
          memoryCost: 4096,
          timeCost: 1,
        }),
        partner: "intercom",
        scopes: ["access.check", "events.write"],
        addresses: [ADDR.partnerVpn],
      },
    ]),
    { mode: 0o600 },
  );
  surface = spawnChild(
    ["ip", "netns", "exec", NS.api, BUN, join(FIXTURES, "vpn-partner-surface.ts")],
    {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? dir,
      PARTNER_LISTEN: `${ADDR.apiVpn}:${PARTNER_PORT}`,
      PARTNER_ALLOWED_CIDRS: VPN_CIDR,
      PARTNER_CLIENTS_FILE: clients,
      VPN_SEED_USER_ID: RESIDENT.userId,
      VPN_SEED_SITES: RESIDENT.sites.join(","),
      VPN_SEED_SUBJECT_KEY: SUBJECT_KEY.toString("hex"),
    },
  );
  await surface.waitFor(/partner surface listening/, 30_000);
}

/** Idempotent, and safe after a partial setup: every step ignores what is already gone. */
async function tearDown(): Promise<void> {
  if (surface) await stopProcess(surface.process);
  for (const wg of wireguards) await stopProcess(wg);
  for (const ns of Object.values(NS)) {
    await run(["ip", "netns", "del", ns], { allowFailure: true });
  }
  for (const ifname of Object.values(WG))
    rmSync(`/var/run/wireguard/${ifname}.sock`, { force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** The surface's JSON log lines (one per request). */
function surfaceLog(): Array<Record<string, unknown>> {
  return (surface?.lines ?? []).flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

const tokenRequest = {
  url: `${SURFACE}/oauth/token`,
  headers: {
    "content-type": "application/x-www-form-urlencoded",
    authorization: `Basic ${btoa(`${CLIENT.clientId}:${CLIENT.secret}`)}`,
  },
  body: "grant_type=client_credentials&scope=access.check",
};

if (missing && process.env.CI) {
  test("VPN test bed prerequisites (CI must have them)", () => {
    throw new Error(
      `VPN test bed cannot run: ${missing}; run scripts/install-system-tools.sh as root`,
    );
  });
}

(missing ? describe.skip : describe)("partner surface behind WireGuard and nftables", () => {
  beforeAll(async () => {
    try {
      await buildBed();
      vpnCollector = createVpnCollector({
        iface: WG.api,
        command: ["ip", "netns", "exec", NS.api, "wg", "show", WG.api, "dump"],
        handshakeTimeoutSeconds: 3,
        record: async (event) => {
          vpnLog.push(event);
        },
      });
      // the partner's keepalive may have shaken hands already: whatever it saw is recorded
      await vpnCollector.pollOnce();
    } catch (error) {
      await tearDown();
      throw error;
    }
  });
  afterAll(tearDown);

  test("1. from the partner, through the tunnel: a token, then an access check that allows", async () => {
    const token = await requestFrom(NS.partner, { ...tokenRequest, timeoutMs: 5000 });
    expect(token.status).toBe(200);
    const accessToken = String((token.body as { access_token?: string }).access_token);
    const check = await requestFrom(NS.partner, {
      url: `${SURFACE}/partner/v1/access-checks`,
      headers: { "content-type": "application/json", authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({
        subject: subjectFor(RESIDENT.userId, SUBJECT_KEY),
        deviceId: "ic-a1",
        method: "key",
      }),
      timeoutMs: 5000,
    });
    expect(check).toEqual({ status: 200, body: { decision: "allow" } });

    // It really went through the tunnel: the surface saw the partner's VPN address, and the
    // api's interface has a handshake with the partner's key.
    const lines = surfaceLog().filter((line) => line.msg === "partner request");
    expect(lines.map((line) => [line.ip, line.type, line.status])).toEqual([
      [ADDR.partnerVpn, "oauth.token", 200],
      [ADDR.partnerVpn, "access_check", 200],
    ]);
    const handshakes = await inNs(NS.api, "wg", "show", WG.api, "latest-handshakes");
    expect(Number(handshakes.stdout.trim().split(/\s+/)[1])).toBeGreaterThan(0);
    // the connection log records the connect from the handshake
    // the connection log holds one connect, stamped with the handshake's time
    await vpnCollector.pollOnce();
    expect(vpnLog).toEqual([
      expect.objectContaining({
        kind: "connected",
        iface: WG.api,
        endpointIp: ADDR.partnerUnderlay,
      }),
    ]);
    expect(vpnLog[0]?.at.getTime()).toBe(Number(handshakes.stdout.trim().split(/\s+/)[1]) * 1000);
  });

  test("2. from outside the tunnel: the firewall drops the connection and counts it", async () => {
    const before = await refusedPackets();
    const toVpnAddress = await requestFrom(NS.outside, {
      ...tokenRequest,
      timeoutMs: BLOCKED_TIMEOUT_MS,
    });
    expect(toVpnAddress).toEqual({ error: "timeout" });
    const toUnderlay = await requestFrom(NS.outside, {
      ...tokenRequest,
      url: `http://${ADDR.apiUnderlayO}:${PARTNER_PORT}/oauth/token`,
      timeoutMs: BLOCKED_TIMEOUT_MS,
    });
    expect(toUnderlay).toEqual({ error: "timeout" });
    expect(await refusedPackets()).toBeGreaterThan(before);
    expect(surfaceLog().some((line) => line.ip === ADDR.outsideUnderlay)).toBe(false);
  });

  test("3. with the firewall flushed, the same request reaches the listener and the CIDR check refuses it", async () => {
    await inNs(NS.api, "nft", "flush", "ruleset");
    const outcome = await requestFrom(NS.outside, { ...tokenRequest, timeoutMs: 5000 });
    expect(outcome.status).toBe(403);
    expect(outcome.body).toMatchObject({ error: { code: "FORBIDDEN" } });
    const refused = surfaceLog().find((line) => line.ip === ADDR.outsideUnderlay);
    expect(refused).toMatchObject({
      level: "warn",
      msg: "partner request refused",
      type: "oauth.token",
      status: 403,
      refused: "outside_allowlist",
    });
    // The partner, meanwhile, still gets through.
    const partner = await requestFrom(NS.partner, { ...tokenRequest, timeoutMs: 5000 });
    expect(partner.status).toBe(200);
  });

  test("4. the VPN connection log: a disconnect once the partner is gone, not while it talks", async () => {
    // alive: requests through the tunnel for over twice the threshold — no disconnect
    const aliveUntil = Date.now() + 7000;
    while (Date.now() < aliveUntil) {
      expect((await requestFrom(NS.partner, { ...tokenRequest, timeoutMs: 5000 })).status).toBe(
        200,
      );
      await vpnCollector.pollOnce();
    }
    expect(vpnLog.map((event) => event.kind)).toEqual(["connected"]);

    // the partner goes away
    const partnerWg = wireguards[1];
    if (partnerWg) await stopProcess(partnerWg);
    const deadline = Date.now() + 15_000;
    while (!vpnLog.some((event) => event.kind === "disconnected")) {
      if (Date.now() > deadline) throw new Error("no disconnect event within 15 s");
      await vpnCollector.pollOnce();
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(vpnLog.map((event) => event.kind)).toEqual(["connected", "disconnected"]);
    expect(vpnLog[1]).toMatchObject({ iface: WG.api, endpointIp: ADDR.partnerUnderlay });
  });
});
