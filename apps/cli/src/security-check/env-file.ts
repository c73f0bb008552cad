import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileMode, octal } from "./file-modes.ts";
import { type Finding, FindingSink, type Severity } from "./findings.ts";
import { parsePrefix } from "./ip-prefix.ts";

export interface EnvEntry {
  value: string;
  line: number;
}

/** `KEY=VALUE` lines (`export ` prefix, quotes and `#` comments allowed), last one wins. */
export function parseEnvFile(text: string): Map<string, EnvEntry> {
  const env = new Map<string, EnvEntry>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(raw);
    if (!match?.[1]) return;
    let value = (match[2] ?? "").trim();
    const quoted = /^(["'])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2] ?? "";
    else value = value.replace(/\s+#.*$/, "");
    env.set(match[1], { value, line: index + 1 });
  });
  return env;
}

/** Files an env file points at, for the certificate and secret checks. */
export interface ReferencedFiles {
  certificates: string[];
  secrets: string[];
  /** tcp port of PARTNER_LISTEN, the partner surface. */
  partnerPort: number | null;
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

function isLoopback(host: string): boolean {
  return (
    LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host) || host.endsWith(".localhost")
  );
}

/** Variables whose value is a URL the api trusts (tokens, keys or partner traffic go there). */
const TRANSPORT_URL = /^(PARTNER_[A-Z0-9]+_(BASE_URL|ISSUER|TOKEN_URL)|AUTH_ISSUER|AUTH_JWKS_URL)$/;
const INLINE_SECRET = /^PARTNER_[A-Z0-9]+_(CLIENT_SECRET|SUBJECT_KEY)$/;
const SECRET_FILE = /(_SECRET_FILE|_KEY_FILE|_PASSWORD_FILE)$/;
const CERT_FILE = /(_CERT_FILE|_CA_FILE)$/;

/**
 * What DATABASE_URL's sslmode leaves open in production; null: nothing (verify-full checks the
 * chain, against DATABASE_CA_FILE when set, and the host). Nothing but verify-* uses the CA.
 */
function databaseTlsProblem(sslmode: string | null): [Severity, string] | null {
  switch (sslmode) {
    case "verify-full":
      return null;
    case "verify-ca":
      return ["medium", "the CA is checked, but not that the certificate names the host"];
    case "require":
      return ["high", "encrypted but the server is not authenticated"];
    case null:
      return ["high", "not encrypted"];
    default:
      return ["high", "not encrypted for certain, and the server is not authenticated"];
  }
}

/**
 * Audits an api env file: plain-http partner/identity URLs, DATABASE_URL without TLS or as a
 * superuser, wide-open partner listener settings, inline secrets and the file's own mode.
 */
export function checkEnvFile(path: string): { findings: Finding[]; referenced: ReferencedFiles } {
  const sink = new FindingSink(path);
  const referenced: ReferencedFiles = { certificates: [], secrets: [], partnerPort: null };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    sink.add("medium", "env.readable", `cannot read ${path}`);
    return { findings: sink.findings, referenced };
  }
  const env = parseEnvFile(text);
  const environment = env.get("PROPGATE_ENV")?.value || "production";
  const production = environment === "production";
  let holdsSecret = false;

  for (const [key, { value, line }] of env) {
    if (TRANSPORT_URL.test(key)) {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        sink.add("medium", "env.url", `${key} is not a URL`, line);
        continue;
      }
      if (url.protocol === "http:") {
        if (production) {
          sink.add(
            "high",
            "env.plain-http",
            `${key} is plain http with PROPGATE_ENV=${environment}; use https`,
            line,
          );
        } else if (!isLoopback(url.hostname)) {
          sink.add(
            "high",
            "env.plain-http",
            `${key} is plain http to ${url.hostname}, not loopback; use https`,
            line,
          );
        } else {
          sink.add(
            "info",
            "env.plain-http",
            `${key} is plain http on loopback (${environment} only)`,
            line,
          );
        }
      }
    }
    if (INLINE_SECRET.test(key) && value !== "") {
      holdsSecret = true;
      if (production) {
        sink.add(
          "high",
          "env.inline-secret",
          `${key} is inline, which the api refuses in production; put it in a 0600 file only the service reads and set ${key}_FILE`,
          line,
        );
      } else {
        sink.add(
          "low",
          "env.inline-secret",
          `${key} is inline; prefer ${key}_FILE (a 0600 file only the service reads)`,
          line,
        );
      }
    }
    if (SECRET_FILE.test(key) && value !== "")
      referenced.secrets.push(resolve(dirname(path), value));
    if (CERT_FILE.test(key) && value !== "")
      referenced.certificates.push(resolve(dirname(path), value));
  }

  const database = env.get("DATABASE_URL");
  if (database) {
    try {
      const url = new URL(database.value);
      if (url.password !== "") {
        holdsSecret = true;
        sink.add(
          "low",
          "env.inline-secret",
          "DATABASE_URL holds the password; prefer DATABASE_PASSWORD_FILE (a 0600 file only the service reads)",
          database.line,
        );
      }
      const sslmode = url.searchParams.get("sslmode");
      const problem = production ? databaseTlsProblem(sslmode) : null;
      if (problem) {
        sink.add(
          problem[0],
          "env.database-tls",
          `DATABASE_URL has ${sslmode ? `sslmode=${sslmode}` : "no sslmode"} in production: ${problem[1]}; use sslmode=verify-full with DATABASE_CA_FILE`,
          database.line,
        );
      }
      if (decodeURIComponent(url.username) === "postgres") {
        sink.add(
          "high",
          "env.database-role",
          "DATABASE_URL connects as postgres (a superuser); use the api role of infra/postgres/roles.sql",
          database.line,
        );
      }
    } catch {
      sink.add("medium", "env.url", "DATABASE_URL is not a URL", database.line);
    }
  }

  const redis = env.get("REDIS_URL");
  if (redis && production) {
    try {
      const url = new URL(redis.value);
      if (url.password !== "") holdsSecret = true;
      if (url.protocol === "redis:" && !isLoopback(url.hostname)) {
        sink.add(
          "medium",
          "env.redis-tls",
          `REDIS_URL is plain redis:// to ${url.hostname}; use rediss://`,
          redis.line,
        );
      }
    } catch {
      sink.add("medium", "env.url", "REDIS_URL is not a URL", redis.line);
    }
  }

  const listen = env.get("PARTNER_LISTEN");
  if (listen) {
    const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen.value);
    const host = match?.[1] ?? "";
    if (match?.[2]) referenced.partnerPort = Number(match[2]);
    if (["0.0.0.0", "::", ""].includes(host)) {
      sink.add(
        "high",
        "env.partner-listen",
        `PARTNER_LISTEN=${listen.value} binds every address; bind the VPN address only`,
        listen.line,
      );
    }
  }
  const cidrs = env.get("PARTNER_ALLOWED_CIDRS");
  if (cidrs) {
    for (const cidr of cidrs.value
      .split(",")
      .map((c) => c.trim())
      .filter(Boolean)) {
      const prefix = parsePrefix(cidr);
      if (prefix?.bits === 0) {
        sink.add(
          "high",
          "env.partner-cidrs",
          `PARTNER_ALLOWED_CIDRS contains ${cidr}: every address passes the api's CIDR check`,
          cidrs.line,
        );
      } else if (prefix === null) {
        sink.add(
          "medium",
          "env.partner-cidrs",
          `PARTNER_ALLOWED_CIDRS entry ${cidr} is not a CIDR`,
          cidrs.line,
        );
      }
    }
  }

  const mode = fileMode(path);
  if (mode && holdsSecret && mode.worldReadable) {
    sink.add(
      "critical",
      "env.permissions",
      `holds secrets and is world-readable (mode ${octal(mode.mode)}); chmod 600`,
    );
  } else if (mode && holdsSecret && mode.groupReadable) {
    sink.add(
      "high",
      "env.permissions",
      `holds secrets and is group-readable (mode ${octal(mode.mode)}); chmod 600`,
    );
  }
  if (mode && (mode.worldWritable || mode.groupWritable)) {
    sink.add(
      "high",
      "env.permissions",
      `writable by ${mode.worldWritable ? "everyone" : "its group"} (mode ${octal(mode.mode)}): whoever edits it reconfigures the api`,
    );
  }
  return { findings: sink.findings, referenced };
}
