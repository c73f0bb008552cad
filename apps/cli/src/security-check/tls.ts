import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { connect, type SecureVersion } from "node:tls";
import { type Finding, FindingSink } from "./findings.ts";

/** Expiring within this many days → medium. */
export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;
const STRONG_CURVES = new Set(["prime256v1", "secp384r1", "secp521r1", "P-256", "P-384", "P-521"]);

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function describeKey(cert: X509Certificate): { text: string; weakness: string | null } {
  let key: X509Certificate["publicKey"];
  try {
    key = cert.publicKey;
  } catch {
    return {
      text: "unsupported key",
      weakness: "its public key uses an algorithm or curve this runtime rejects (weak or exotic)",
    };
  }
  const type = key.asymmetricKeyType ?? "unknown";
  const details = key.asymmetricKeyDetails ?? {};
  if (type === "rsa" || type === "rsa-pss") {
    const bits = details.modulusLength ?? 0;
    return {
      text: `RSA ${bits}`,
      weakness: bits < 2048 ? `RSA key of ${bits} bits (< 2048)` : null,
    };
  }
  if (type === "ec") {
    const curve = details.namedCurve ?? "unknown curve";
    return {
      text: `EC ${curve}`,
      weakness: STRONG_CURVES.has(curve) ? null : `EC key on ${curve}`,
    };
  }
  if (type === "ed25519" || type === "ed448") return { text: type, weakness: null };
  return { text: type, weakness: `${type} key` };
}

/** Expiry, key and signature of one certificate; `name` says which one in messages. */
function checkCertificate(
  sink: FindingSink,
  cert: X509Certificate,
  name: string,
  now: Date,
  leaf: boolean,
): void {
  const validTo = new Date(cert.validTo);
  const validFrom = new Date(cert.validFrom);
  const days = Math.floor((validTo.getTime() - now.getTime()) / DAY_MS);
  if (validTo.getTime() <= now.getTime()) {
    sink.add("critical", "tls.expiry", `${name} expired on ${validTo.toISOString()}`);
  } else if (validFrom.getTime() > now.getTime()) {
    sink.add("high", "tls.expiry", `${name} is not valid before ${validFrom.toISOString()}`);
  } else if (days < EXPIRY_WARNING_DAYS) {
    sink.add(
      "medium",
      "tls.expiry",
      `${name} expires in ${days} day(s), on ${validTo.toISOString()}: renew it`,
    );
  }
  const key = describeKey(cert);
  if (key.weakness) sink.add("high", "tls.key", `${name}: weak key, ${key.weakness}`);
  // A self-signed root's own signature is never checked by clients; only the others matter.
  const selfSignedRoot = cert.ca && cert.issuer === cert.subject;
  if (!selfSignedRoot && /md2|md4|md5|sha1(?!\d)|sha-1/i.test(cert.signatureAlgorithm ?? "")) {
    sink.add("high", "tls.signature", `${name} is signed with ${cert.signatureAlgorithm}`);
  }
  if (leaf && !key.weakness && days >= EXPIRY_WARNING_DAYS) {
    sink.add(
      "info",
      "tls.certificate",
      `${name}: ${key.text}, ${cert.signatureAlgorithm}, valid ${days} more days`,
    );
  }
}

function subjectOf(cert: X509Certificate): string {
  return cert.subject.replaceAll("\n", ", ");
}

/**
 * Audits the certificates in a PEM file (leaf first, then the chain): expired → critical, not
 * yet valid or weak key / signature → high, expiring within 30 days → medium.
 */
export function checkCertificateFile(path: string, now: Date): Finding[] {
  const sink = new FindingSink(path);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    sink.add("high", "tls.certificate", `cannot read certificate ${path}`);
    return sink.findings;
  }
  const blocks = pemBlocks(text);
  if (blocks.length === 0) {
    sink.add("high", "tls.certificate", "no PEM certificate in this file");
    return sink.findings;
  }
  blocks.forEach((block, index) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch {
      sink.add(
        "high",
        "tls.certificate",
        `certificate #${index + 1} cannot be parsed (malformed, or a key this runtime rejects as weak)`,
      );
      return;
    }
    const name =
      index === 0
        ? `certificate ${subjectOf(cert)}`
        : `chain certificate #${index + 1} ${subjectOf(cert)}`;
    checkCertificate(sink, cert, name, now, index === 0);
  });
  return sink.findings;
}

const PROBE_TIMEOUT_MS = 5_000;
type Handshake =
  | { ok: true; protocol: string | null; cert: X509Certificate | undefined }
  | { ok: false; reason: string };

/** One TLS handshake limited to `versions`; the certificate is inspected, not trusted. */
function handshake(
  host: string,
  port: number,
  versions: { minVersion: SecureVersion; maxVersion: SecureVersion },
): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      rejectUnauthorized: false,
      ...versions,
    });
    const done = (result: Handshake) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done({ ok: false, reason: "timed out" }));
    socket.once("error", (err) => done({ ok: false, reason: err.message }));
    socket.once("secureConnect", () =>
      done({
        ok: true,
        protocol: socket.getProtocol(),
        cert: socket.getPeerX509Certificate(),
      }),
    );
  });
}

/**
 * Probes a TLS listener (`host:port`): a handshake at TLS 1.0 or 1.1 succeeding → high (the
 * minimum is 1.2); then a normal handshake, whose certificate gets the file checks.
 */
export async function checkTlsEndpoint(target: string, now: Date): Promise<Finding[]> {
  const sink = new FindingSink(target);
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(target);
  if (!match?.[1] || !match[2]) {
    sink.add("medium", "tls.endpoint", `${target} is not host:port`);
    return sink.findings;
  }
  const host = match[1];
  const port = Number(match[2]);
  const current = await handshake(host, port, { minVersion: "TLSv1.2", maxVersion: "TLSv1.3" });
  if (!current.ok) {
    sink.add("high", "tls.endpoint", `no TLS 1.2+ handshake with ${target}: ${current.reason}`);
    return sink.findings;
  }
  for (const version of ["TLSv1", "TLSv1.1"] as const) {
    const legacy = await handshake(host, port, { minVersion: version, maxVersion: version });
    if (legacy.ok) {
      sink.add("high", "tls.protocol", `${target} accepts ${version}; require TLS 1.2 or later`);
    }
  }
  if (current.cert === undefined) {
    sink.add("high", "tls.certificate", `${target} presented no certificate`);
  } else {
    checkCertificate(
      sink,
      current.cert,
      `served certificate ${subjectOf(current.cert)}`,
      now,
      true,
    );
  }
  sink.add(
    "info",
    "tls.protocol",
    `${target} negotiated ${current.protocol ?? "an unknown protocol"}`,
  );
  return sink.findings;
}
