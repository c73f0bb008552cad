import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { checkEnvFile } from "./env-file.ts";
import { checkSecretFileMode } from "./file-modes.ts";
import { type Finding, FindingSink, isSeverity, type Severity } from "./findings.ts";
import {
  type AllowedPorts,
  allowedPortsFrom,
  checkNftablesFile,
  describePorts,
} from "./nftables.ts";
import { buildReport, type Checked, formatTable } from "./report.ts";
import { checkCertificateFile, checkTlsEndpoint } from "./tls.ts";
import { checkWireGuardFile, wireguardListenPorts } from "./wireguard.ts";

export const SECURITY_CHECK_USAGE = `propgate security-check [--wg <conf>...] [--nft <ruleset>...]
    [--tls-cert <pem>...] [--tls-endpoint <host:port>...] [--secret <file>...] [--env <file>...]
    [--allow-port tcp/<n>|udp/<n>...] [--json] [--fail-on critical|high|medium|low] [--at <date>]

  Audits this deployment's own configuration and exits 1 on any finding at or above
  --fail-on (default high). Without any target it checks the repo's infra/vpn/**/*.conf and
  infra/firewall/**/*.nft. The firewall may accept only the listed ports: --allow-port, plus
  the udp ListenPort of each --wg file and the PARTNER_LISTEN port of --env (tcp/8443 when
  neither names a tcp port). Files named by *_FILE, *_CERT_FILE and *_CA_FILE variables of
  --env are checked too. --tls-endpoint connects and refuses TLS below 1.2. --at evaluates
  certificate expiry at another date (e.g. the next maintenance window).`;

/** The repo checkout this CLI runs from (apps/cli/src/security-check → root). */
const REPO_ROOT = resolve(import.meta.dir, "../../../..");
const DEFAULT_PARTNER_PORT = 8443;

export interface SecurityCheckIo {
  out(text: string): void;
  err(text: string): void;
  cwd: string;
  now: Date;
}

/** Files under `dir` (any depth) whose name ends with `suffix`, sorted. */
function filesIn(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(suffix))
    .sort()
    .map((name) => join(dir, name));
}

/** Runs the check; resolves to the exit status (0 ok, 1 findings at or above --fail-on, 2 usage). */
export async function runSecurityCheck(argv: string[], io: SecurityCheckIo): Promise<number> {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (err) {
    io.err(
      `security-check: ${err instanceof Error ? err.message : String(err)}\n\n${SECURITY_CHECK_USAGE}`,
    );
    return 2;
  }
  if (values.help) {
    io.out(SECURITY_CHECK_USAGE);
    return 0;
  }
  const failOn = values["fail-on"] ?? "high";
  if (!isSeverity(failOn) || failOn === "info") {
    io.err(`security-check: --fail-on ${failOn}: expected critical, high, medium or low`);
    return 2;
  }
  const now = values.at === undefined ? io.now : new Date(values.at);
  if (Number.isNaN(now.getTime())) {
    io.err(`security-check: --at ${values.at}: not a date`);
    return 2;
  }
  const abs = (files: string[] | undefined) => (files ?? []).map((f) => resolve(io.cwd, f));
  let wg = abs(values.wg);
  let nft = abs(values.nft);
  const certificates = abs(values["tls-cert"]);
  const endpoints = values["tls-endpoint"] ?? [];
  const secrets = abs(values.secret);
  const envFiles = abs(values.env);
  const targets = [wg, nft, certificates, endpoints, secrets, envFiles];
  if (targets.every((list) => list.length === 0)) {
    wg = filesIn(join(REPO_ROOT, "infra/vpn"), ".conf");
    nft = filesIn(join(REPO_ROOT, "infra/firewall"), ".nft");
    if (wg.length + nft.length === 0) {
      io.err(
        `security-check: nothing to check: no *.conf under infra/vpn and no *.nft under infra/firewall in ${REPO_ROOT}; name files\n\n${SECURITY_CHECK_USAGE}`,
      );
      return 2;
    }
  }

  let allowed: AllowedPorts;
  try {
    allowed = allowedPortsFrom(values["allow-port"] ?? []);
  } catch (err) {
    io.err(`security-check: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }

  const checked: Checked[] = [];
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const record = (kind: Checked["kind"], file: string, run: () => Finding[]) => {
    const key = `${kind}:${file}`;
    if (seen.has(key)) return;
    seen.add(key);
    checked.push({ kind, file });
    findings.push(...run());
  };

  let partnerPort: number | null = null;
  for (const file of envFiles) {
    const result = checkEnvFile(file);
    record("env", file, () => result.findings);
    partnerPort ??= result.referenced.partnerPort;
    certificates.push(...result.referenced.certificates);
    secrets.push(...result.referenced.secrets);
  }
  for (const file of wg) {
    record("wireguard", file, () => checkWireGuardFile(file));
    for (const port of wireguardListenPorts(file)) allowed.udp.add(port);
  }
  if (partnerPort !== null) allowed.tcp.add(partnerPort);
  if (allowed.tcp.size === 0) allowed.tcp.add(DEFAULT_PARTNER_PORT);
  for (const file of nft) {
    record("nftables", file, () => {
      const sink = new FindingSink(file);
      sink.add(
        "info",
        "nftables.allowed-ports",
        `ports the host may accept: ${describePorts(allowed)}`,
      );
      return [...sink.findings, ...checkNftablesFile(file, allowed)];
    });
  }
  for (const file of certificates) record("tls", file, () => checkCertificateFile(file, now));
  for (const endpoint of endpoints) {
    const endpointFindings = await checkTlsEndpoint(endpoint, now);
    record("tls-endpoint", endpoint, () => endpointFindings);
  }
  for (const file of secrets) {
    record("secret", file, () => {
      const sink = new FindingSink(file);
      const mode = checkSecretFileMode(sink, file, "secret");
      if (mode?.size === 0) sink.add("low", "secret.empty", `secret ${file} is empty`);
      return sink.findings;
    });
  }

  const report = buildReport(checked, findings, failOn as Severity);
  io.out(values.json ? JSON.stringify(report, null, 2) : formatTable(report, io.cwd));
  return report.ok ? 0 : 1;
}

/** `propgate security-check …` on the console, at the current time. */
export function securityCheckCli(argv: string[]): Promise<number> {
  const io = { out: console.log, err: console.error, cwd: process.cwd(), now: new Date() };
  return runSecurityCheck(argv, io);
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      wg: { type: "string", multiple: true },
      nft: { type: "string", multiple: true },
      "tls-cert": { type: "string", multiple: true },
      "tls-endpoint": { type: "string", multiple: true },
      secret: { type: "string", multiple: true },
      env: { type: "string", multiple: true },
      "allow-port": { type: "string", multiple: true },
      json: { type: "boolean" },
      "fail-on": { type: "string" },
      at: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}
