import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:tls";
import { runSecurityCheck } from "../src/security-check/command.ts";
import type { Finding, Severity } from "../src/security-check/findings.ts";
import type { Report } from "../src/security-check/report.ts";
import { runCli } from "./run-cli.ts";

/** `propgate security-check`: planted weaknesses are flagged, sound files and infra/ pass. */
const FIXTURES = `${import.meta.dir}/fixtures/security-check`;
const REPO = `${import.meta.dir}/../../..`;
const DAY_MS = 86_400_000;
const OPENSSL = Bun.which("openssl");

const dir = mkdtempSync(join(tmpdir(), "propgate-security-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A WireGuard-shaped key made now: 32 random bytes. Nothing secret is ever committed. */
const keys = new Map<string, string>();
function keyFor(name: string): string {
  const existing = keys.get(name);
  if (existing) return existing;
  const key = randomBytes(32).toString("base64");
  keys.set(name, key);
  return key;
}

/** Writes `content` to the scratch dir with `mode`; returns its path. */
function put(name: string, content: string, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

/** Copies a fixture to the scratch dir, filling `{{KEY:…}}` and `{{NAME}}` placeholders. */
function fixture(name: string, mode: number, vars: Record<string, string> = {}, as = name): string {
  const text = readFileSync(join(FIXTURES, name), "utf8")
    .replace(/\{\{KEY:([a-z0-9-]+)\}\}/g, (_, key: string) => keyFor(key))
    .replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => vars[key] ?? `{{${key}}}`);
  return put(as, text, mode);
}

async function run(
  args: string[],
  now = new Date(),
): Promise<{ code: number; report: Report; err: string }> {
  let out = "";
  let err = "";
  const code = await runSecurityCheck([...args, "--json"], {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    cwd: dir,
    now,
  });
  return { code, report: (out ? JSON.parse(out) : null) as Report, err };
}

interface Expected {
  severity: Severity;
  check: string;
  message: string;
  line?: number;
}

function expectFindings(findings: Finding[], expected: Expected[]): void {
  for (const want of expected) {
    const match = findings.find(
      (f) =>
        f.severity === want.severity &&
        f.check === want.check &&
        f.message.includes(want.message) &&
        (want.line === undefined || f.line === want.line),
    );
    if (match === undefined) {
      const seen = findings.map((f) => `${f.severity} ${f.check}:${f.line ?? ""} ${f.message}`);
      throw new Error(`missing ${JSON.stringify(want)}; found:\n${seen.join("\n")}`);
    }
  }
}

function above(findings: Finding[], levels: Severity[]): Finding[] {
  return findings.filter((f) => levels.includes(f.severity));
}

describe("WireGuard configs", () => {
  test("flags each planted weakness with its severity", async () => {
    const keyFile = put("wg-weak.psk", keyFor("psk"), 0o640);
    const conf = fixture("wg-weak.conf", 0o644, { KEY_FILE: keyFile });
    const { code, report } = await run(["--wg", conf]);
    expect(code).toBe(1);
    expectFindings(report.findings, [
      {
        severity: "critical",
        check: "wireguard.private-key",
        message: "PrivateKey inline in a world-readable file",
        line: 7,
      },
      { severity: "high", check: "wireguard.key-file", message: "group-readable", line: 8 },
      { severity: "low", check: "wireguard.save-config", message: "SaveConfig = true", line: 9 },
      {
        severity: "high",
        check: "wireguard.allowed-ips",
        message: "peer #1 (partner with the whole internet): AllowedIPs 0.0.0.0/0",
        line: 14,
      },
      {
        severity: "medium",
        check: "wireguard.allowed-ips",
        message: "AllowedIPs 10.0.0.0/8 is very broad",
        line: 20,
      },
      {
        severity: "medium",
        check: "wireguard.allowed-ips",
        message: "overlaps 10.80.0.2/32 of peer #1",
      },
      {
        severity: "low",
        check: "wireguard.keepalive",
        message:
          "peer #2 (partner without keepalive and with a broad range) has no PersistentKeepalive",
      },
      {
        severity: "medium",
        check: "wireguard.peer-duplicate",
        message: "peer #3 (the same partner again) repeats the PublicKey of peer #2",
        line: 24,
      },
      {
        severity: "low",
        check: "wireguard.keepalive",
        message: "PersistentKeepalive 600s",
        line: 26,
      },
      {
        severity: "medium",
        check: "wireguard.peer-key",
        message: "peer #4 (a leftover without a key) has no PublicKey",
      },
      {
        severity: "low",
        check: "wireguard.peer-unused",
        message: "peer #5 (routes nothing) has no AllowedIPs",
      },
      {
        severity: "high",
        check: "wireguard.allowed-ips",
        message: "peer #6 (IPv6 default route): AllowedIPs ::/0",
      },
      {
        severity: "low",
        check: "wireguard.keepalive",
        message: "peer #6 (IPv6 default route): PersistentKeepalive is off",
      },
    ]);
  });

  test("an inline key in a group-readable file is high; a writable conf is critical", async () => {
    const keyFile = put("wg-weak.psk", keyFor("psk"), 0o600);
    const groupReadable = fixture("wg-weak.conf", 0o640, { KEY_FILE: keyFile }, "wg-group.conf");
    expectFindings((await run(["--wg", groupReadable])).report.findings, [
      {
        severity: "high",
        check: "wireguard.private-key",
        message: "inline in a group-readable file",
        line: 7,
      },
    ]);
    const writable = fixture("wg-good.conf", 0o666, { KEY_FILE: keyFile }, "wg-writable.conf");
    expectFindings((await run(["--wg", writable])).report.findings, [
      { severity: "critical", check: "wireguard.permissions", message: "writable by everyone" },
    ]);
  });

  test("a sound config with a 0600 key file passes", async () => {
    const keyFile = put("wg0.key", keyFor("iface"), 0o600);
    const conf = fixture("wg-good.conf", 0o600, { KEY_FILE: keyFile });
    const { code, report } = await run(["--wg", conf]);
    expect(above(report.findings, ["critical", "high", "medium", "low"])).toEqual([]);
    expect(code).toBe(0);
  });
});

describe("nftables rulesets", () => {
  test("flags each accept beyond the listed ports, blanket accepts and missing related", async () => {
    const { code, report } = await run([
      "--nft",
      `${FIXTURES}/weak.nft`,
      "--allow-port",
      "udp/51820",
    ]);
    expect(code).toBe(1);
    expectFindings(report.findings, [
      { severity: "info", check: "nftables.policy", message: "policy drop" },
      {
        severity: "low",
        check: "nftables.established",
        message: "accepts established but not related",
      },
      {
        severity: "high",
        check: "nftables.accept",
        message: "accepts tcp port 22, not in the allowed list (tcp/8443, udp/51820)",
        line: 14,
      },
      { severity: "high", check: "nftables.accept", message: "tcp port 1000-2000", line: 15 },
      {
        severity: "high",
        check: "nftables.accept",
        message: "accepts by source port only",
        line: 16,
      },
      { severity: "high", check: "nftables.accept", message: "every tcp port except 22", line: 17 },
      {
        severity: "medium",
        check: "nftables.scope",
        message: "tcp port 8443 is accepted on every interface",
        line: 18,
      },
      { severity: "high", check: "nftables.accept", message: "tcp port 5432", line: 19 },
      { severity: "high", check: "nftables.accept", message: "tcp port 9000", line: 20 },
      { severity: "high", check: "nftables.accept", message: "tcp port 6379", line: 21 },
      {
        severity: "high",
        check: "nftables.accept",
        message: "accepts every port from iifname eth0",
        line: 22,
      },
      { severity: "high", check: "nftables.accept", message: "tcp port https (443)", line: 29 },
      { severity: "high", check: "nftables.accept", message: "ct state invalid", line: 24 },
      { severity: "critical", check: "nftables.accept", message: "blanket accept", line: 25 },
    ]);
  });

  test("default accept, IPv4-only filtering and no established/related are flagged", async () => {
    const { code, report } = await run([
      "--nft",
      `${FIXTURES}/policy-accept.nft`,
      "--allow-port",
      "udp/51820",
    ]);
    expect(code).toBe(1);
    expectFindings(report.findings, [
      { severity: "critical", check: "nftables.policy", message: "policy accept" },
      { severity: "medium", check: "nftables.ipv6", message: "IPv6 is not filtered" },
      {
        severity: "medium",
        check: "nftables.established",
        message: "no `ct state established,related accept`",
      },
    ]);
  });

  test("a ruleset without an input chain filters nothing", async () => {
    const path = put(
      "no-input.nft",
      "table inet filter {\n  chain output {\n    type filter hook output priority 0; policy accept;\n  }\n}\n",
      0o644,
    );
    expectFindings((await run(["--nft", path])).report.findings, [
      { severity: "high", check: "nftables.input", message: "no chain on the input hook" },
    ]);
  });

  test("a sound ruleset (sets, defines, vmap, jumps) passes", async () => {
    const { code, report } = await run([
      "--nft",
      `${FIXTURES}/good.nft`,
      "--allow-port",
      "udp/51820",
    ]);
    expect(above(report.findings, ["critical", "high", "medium", "low"])).toEqual([]);
    expectFindings(report.findings, [
      {
        severity: "info",
        check: "nftables.accept",
        message: "accepts tcp/8443 from iifname wg0 + a source address match",
      },
    ]);
    expect(code).toBe(0);
  });

  test("the WireGuard ListenPort is an allowed port when the config is checked too", async () => {
    const keyFile = put("wg0.key", keyFor("iface"), 0o600);
    const conf = fixture("wg-good.conf", 0o600, { KEY_FILE: keyFile });
    const { code } = await run(["--nft", `${FIXTURES}/good.nft`, "--wg", conf]);
    expect(code).toBe(0);
    expect((await run(["--nft", `${FIXTURES}/good.nft`])).code).toBe(1);
  });
});

describe.if(OPENSSL !== null)("TLS certificates", () => {
  let ca: { cert: string; key: string };
  async function openssl(args: string[]): Promise<void> {
    const child = Bun.spawn([OPENSSL ?? "openssl", ...args], {
      cwd: dir,
      stdout: "ignore",
      stderr: "pipe",
    });
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${stderr}`);
  }
  /** A throwaway leaf signed by the throwaway CA. */
  async function leaf(
    name: string,
    opts: { newkey: string[]; days: number; digest?: string },
  ): Promise<string> {
    const serial = `0x${randomBytes(8).toString("hex")}`;
    await openssl([
      "req",
      "-new",
      "-nodes",
      "-newkey",
      ...opts.newkey,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${name}`,
    ]);
    await openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-set_serial",
      serial,
      "-days",
      String(opts.days),
      `-${opts.digest ?? "sha256"}`,
      "-out",
      `${name}.pem`,
    ]);
    return join(dir, `${name}.pem`);
  }

  beforeAll(async () => {
    ca = { cert: join(dir, "ca.pem"), key: join(dir, "ca.key") };
    await openssl([
      "req",
      "-x509",
      "-nodes",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-keyout",
      ca.key,
      "-out",
      ca.cert,
      "-days",
      "400",
      "-subj",
      "/CN=propgate test CA",
    ]);
  });

  test("expiring within 30 days is medium; expired is critical", async () => {
    const cert = await leaf("expiring", { newkey: ["rsa:2048"], days: 10 });
    const soon = await run(["--tls-cert", cert]);
    expect(soon.code).toBe(0);
    expectFindings(soon.report.findings, [
      { severity: "medium", check: "tls.expiry", message: "expires in" },
    ]);
    const later = await run(["--tls-cert", cert], new Date(Date.now() + 20 * DAY_MS));
    expect(later.code).toBe(1);
    expectFindings(later.report.findings, [
      { severity: "critical", check: "tls.expiry", message: "expired on" },
    ]);
    const at = await run([
      "--tls-cert",
      cert,
      "--at",
      new Date(Date.now() + 40 * DAY_MS).toISOString(),
    ]);
    expectFindings(at.report.findings, [
      { severity: "critical", check: "tls.expiry", message: "expired on" },
    ]);
  });

  test("a 1024-bit RSA key and a SHA-1 signature are high", async () => {
    const cert = await leaf("weak", { newkey: ["rsa:1024"], days: 200, digest: "sha1" });
    const { code, report } = await run(["--tls-cert", cert]);
    expect(code).toBe(1);
    expectFindings(report.findings, [
      { severity: "high", check: "tls.key", message: "RSA key of 1024 bits" },
      { severity: "high", check: "tls.signature", message: "SHA1" },
    ]);
  });

  test("a sound chain passes; a file without a certificate is high", async () => {
    const cert = await leaf("good", {
      newkey: ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
      days: 200,
    });
    const chain = put(
      "good-chain.pem",
      readFileSync(cert, "utf8") + readFileSync(ca.cert, "utf8"),
      0o644,
    );
    const { code, report } = await run(["--tls-cert", chain]);
    expect(above(report.findings, ["critical", "high", "medium", "low"])).toEqual([]);
    expectFindings(report.findings, [
      { severity: "info", check: "tls.certificate", message: "EC prime256v1" },
    ]);
    expect(code).toBe(0);
    const garbage = put("garbage.pem", "not a certificate\n", 0o644);
    expectFindings((await run(["--tls-cert", garbage])).report.findings, [
      { severity: "high", check: "tls.certificate", message: "no PEM certificate" },
    ]);
  });

  /** A throwaway TLS listener on 127.0.0.1 serving `cert`, optionally still speaking TLS 1.0. */
  async function tlsServer(name: string, minVersion: "TLSv1" | "TLSv1.2") {
    const server = createServer(
      {
        key: readFileSync(join(dir, `${name}.key`)),
        cert: readFileSync(join(dir, `${name}.pem`)),
        minVersion,
      },
      (socket) => socket.end(),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    return { target: `127.0.0.1:${port}`, close: () => server.close() };
  }

  test("an endpoint that still accepts TLS 1.0/1.1 is high; a TLS 1.2+ one passes", async () => {
    await leaf("endpoint", { newkey: ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], days: 200 });
    const legacy = await tlsServer("endpoint", "TLSv1");
    const modern = await tlsServer("endpoint", "TLSv1.2");
    try {
      const old = await run(["--tls-endpoint", legacy.target]);
      expect(old.code).toBe(1);
      expectFindings(old.report.findings, [
        { severity: "high", check: "tls.protocol", message: "accepts TLSv1;" },
        { severity: "high", check: "tls.protocol", message: "accepts TLSv1.1;" },
        { severity: "info", check: "tls.certificate", message: "served certificate CN=endpoint" },
      ]);
      const current = await run(["--tls-endpoint", modern.target]);
      expect(above(current.report.findings, ["critical", "high", "medium", "low"])).toEqual([]);
      expect(current.code).toBe(0);
    } finally {
      legacy.close();
      modern.close();
    }
    const closed = await run(["--tls-endpoint", legacy.target]);
    expectFindings(closed.report.findings, [
      { severity: "high", check: "tls.endpoint", message: "no TLS 1.2+ handshake" },
    ]);
  });

  test("an env file's plain-http URLs, database, listener and the files it names are checked", async () => {
    await leaf("expiring", { newkey: ["rsa:2048"], days: 10 });
    put(
      "tls-key.pem",
      "-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n",
      0o644,
    );
    put("barrier-client-secret", randomBytes(24).toString("hex"), 0o640);
    const env = fixture("weak.env", 0o644, { DB_PASSWORD: randomBytes(12).toString("hex") });
    const { code, report } = await run(["--env", env]);
    expect(code).toBe(1);
    const findings = report.findings;
    expectFindings(findings, [
      {
        severity: "high",
        check: "env.plain-http",
        message: "PARTNER_INTERCOM_BASE_URL is plain http",
        line: 3,
      },
      {
        severity: "high",
        check: "env.plain-http",
        message: "PARTNER_BARRIER_TOKEN_URL is plain http with PROPGATE_ENV=production",
        line: 7,
      },
      { severity: "high", check: "env.plain-http", message: "AUTH_JWKS_URL", line: 9 },
      {
        severity: "high",
        check: "env.inline-secret",
        message:
          "PARTNER_INTERCOM_CLIENT_SECRET is inline, which the api refuses in production; put it in a 0600 file only the service reads and set PARTNER_INTERCOM_CLIENT_SECRET_FILE",
        line: 5,
      },
      {
        severity: "low",
        check: "env.inline-secret",
        message: "DATABASE_URL holds the password; prefer DATABASE_PASSWORD_FILE",
        line: 10,
      },
      {
        severity: "high",
        check: "env.database-tls",
        message: "no sslmode in production: not encrypted",
        line: 10,
      },
      { severity: "high", check: "env.database-role", message: "connects as postgres", line: 10 },
      {
        severity: "medium",
        check: "env.redis-tls",
        message: "REDIS_URL is plain redis://",
        line: 11,
      },
      { severity: "high", check: "env.partner-listen", message: "binds every address", line: 12 },
      { severity: "high", check: "env.partner-cidrs", message: "0.0.0.0/0", line: 13 },
      {
        severity: "critical",
        check: "env.permissions",
        message: "holds secrets and is world-readable",
      },
      {
        severity: "high",
        check: "secret.permissions",
        message: "barrier-client-secret is group-readable",
      },
      {
        severity: "critical",
        check: "secret.permissions",
        message: "tls-key.pem is world-readable",
      },
      { severity: "medium", check: "tls.expiry", message: "expires in" },
    ]);
    expect(report.checked.map((c) => c.kind).sort()).toEqual(["env", "secret", "secret", "tls"]);
  });

  test("a sound production env file with 0600 secrets passes", async () => {
    const cert = await leaf("good", {
      newkey: ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
      days: 200,
    });
    expect(cert).toEndWith("good.pem");
    put("intercom-client-secret", randomBytes(24).toString("hex"), 0o600);
    const env = fixture("good.env", 0o600);
    const { code, report } = await run(["--env", env]);
    expect(above(report.findings, ["critical", "high", "medium", "low"])).toEqual([]);
    expect(code).toBe(0);
  });
});

if (OPENSSL === null) {
  if (process.env.CI)
    throw new Error("openssl is missing in CI: run scripts/install-system-tools.sh");
  console.log(
    "[skip] security-check TLS tests: openssl not installed (scripts/install-system-tools.sh installs it)",
  );
}

describe("env files and secrets", () => {
  test("development tolerates plain http on loopback only", async () => {
    const { code, report } = await run(["--env", `${FIXTURES}/dev.env`]);
    expect(code).toBe(1);
    expectFindings(report.findings, [
      {
        severity: "info",
        check: "env.plain-http",
        message: "PARTNER_INTERCOM_BASE_URL is plain http on loopback",
      },
      {
        severity: "info",
        check: "env.plain-http",
        message: "PARTNER_INTERCOM_ISSUER is plain http on loopback",
      },
      {
        severity: "high",
        check: "env.plain-http",
        message: "PARTNER_BARRIER_BASE_URL is plain http to barrier.example, not loopback",
      },
    ]);
  });

  test("DATABASE_URL in production: require and no TLS are high, verify-ca medium, verify-full passes", async () => {
    const cases: [string, Severity | null, string][] = [
      [
        "require",
        "high",
        "sslmode=require in production: encrypted but the server is not authenticated; use sslmode=verify-full with DATABASE_CA_FILE",
      ],
      ["prefer", "high", "sslmode=prefer in production: not encrypted for certain"],
      ["disable", "high", "sslmode=disable in production"],
      [
        "verify-ca",
        "medium",
        "sslmode=verify-ca in production: the CA is checked, but not that the certificate names the host",
      ],
      ["verify-full", null, ""],
    ];
    for (const [sslmode, severity, message] of cases) {
      const env = put(
        `db-${sslmode}.env`,
        `PROPGATE_ENV=production\nDATABASE_URL=postgres://propgate_api@db.internal:5432/propgate?sslmode=${sslmode}\n`,
        0o600,
      );
      const findings = (await run(["--env", env])).report.findings.filter(
        (f) => f.check === "env.database-tls",
      );
      if (severity === null) expect(findings).toEqual([]);
      else {
        expect(findings).toHaveLength(1);
        expectFindings(findings, [{ severity, check: "env.database-tls", message, line: 2 }]);
      }
    }
    const development = put(
      "db-development.env",
      "PROPGATE_ENV=development\nDATABASE_URL=postgres://propgate_api@127.0.0.1:5432/propgate\n",
      0o600,
    );
    const findings = (await run(["--env", development])).report.findings;
    expect(findings.filter((f) => f.check === "env.database-tls")).toEqual([]);
  });

  test("secret files: world-readable critical, group-readable high, writable high, missing medium, empty low", async () => {
    const cases: [string, number | null, Severity, string][] = [
      ["world.secret", 0o644, "critical", "world-readable"],
      ["group.secret", 0o640, "high", "group-readable"],
      ["writable.secret", 0o602, "high", "writable by everyone"],
      ["missing.secret", null, "medium", "missing or unreadable"],
    ];
    for (const [name, mode, severity, message] of cases) {
      const path = mode === null ? join(dir, name) : put(name, "s3cr3t-for-tests", mode);
      const { report } = await run(["--secret", path]);
      expectFindings(report.findings, [{ severity, check: "secret.permissions", message }]);
    }
    const empty = put("empty.secret", "", 0o600);
    expectFindings((await run(["--secret", empty])).report.findings, [
      { severity: "low", check: "secret.empty", message: "is empty" },
    ]);
    const sound = put("sound.secret", "s3cr3t-for-tests", 0o600);
    const { code, report } = await run(["--secret", sound]);
    expect(report.findings).toEqual([]);
    expect(code).toBe(0);
  });

  test("--fail-on lowers the bar; bad arguments exit 2", async () => {
    const path = put(
      "dir-broad.nft",
      readFileSync(`${FIXTURES}/good.nft`, "utf8").replace(
        'iifname "wg0" jump from_vpn',
        "jump from_vpn\n    tcp dport 8443 accept",
      ),
      0o644,
    );
    expect((await run(["--nft", path, "--allow-port", "udp/51820"])).code).toBe(0);
    expect(
      (await run(["--nft", path, "--allow-port", "udp/51820", "--fail-on", "medium"])).code,
    ).toBe(1);
    expect((await run(["--bogus"])).code).toBe(2);
    expect((await run(["--fail-on", "info", "--secret", path])).code).toBe(2);
    expect((await run(["--at", "yesterday-ish", "--secret", path])).code).toBe(2);
    expect((await run(["--allow-port", "icmp/1", "--secret", path])).code).toBe(2);
  });
});

describe("propgate security-check (the CLI)", () => {
  const cli = (args: string[]) => runCli(["security-check", ...args], { cwd: REPO });

  test("the repo's own infra/ files pass: no finding above info", async () => {
    const { code, stdout } = await cli(["--json"]);
    const report = JSON.parse(stdout) as Report;
    const kinds = report.checked.map((c) => `${c.kind} ${c.file.slice(c.file.indexOf("infra/"))}`);
    expect(kinds).toContain("nftables infra/firewall/partner-surface.nft");
    expect(kinds.some((k) => /^wireguard infra\/vpn\/.+\.conf$/.test(k))).toBe(true);
    expect(above(report.findings, ["critical", "high", "medium", "low"])).toEqual([]);
    expect(code).toBe(0);
  });

  test("prints a table and exits 1 on a critical finding", async () => {
    const { code, stdout } = await cli(["--nft", `${FIXTURES}/weak.nft`]);
    expect(code).toBe(1);
    expect(stdout).toContain("SEVERITY  CHECK");
    expect(stdout).toMatch(
      /CRITICAL\s+nftables\.accept\s+apps\/cli\/test\/fixtures\/security-check\/weak\.nft:25\s+blanket accept/,
    );
    expect(stdout).toContain("FAIL (findings at or above high)");
  });

  test("usage errors exit 2 with the usage text", async () => {
    const { code, stderr } = await cli(["--wg"]);
    expect(code).toBe(2);
    expect(stderr).toContain("propgate security-check [--wg <conf>...]");
  });
});
