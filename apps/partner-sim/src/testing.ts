import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Throwaway PKI for TLS tests, made with `openssl` in a fresh temp folder; nothing is committed. */
export interface TestCertificates {
  dir: string;
  /** The CA that signs the server and the client certificate. */
  caFile: string;
  /** Server certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1, DNS:localhost) and its key. */
  serverCertFile: string;
  serverKeyFile: string;
  /** Client certificate (CN = `clientCommonName`, extendedKeyUsage clientAuth) and its key. */
  clientCertFile: string;
  clientKeyFile: string;
  clientCommonName: string;
  /** An unrelated CA, and a client certificate it signed (valid, but not for `caFile`). */
  otherCaFile: string;
  otherClientCertFile: string;
  otherClientKeyFile: string;
  /** Deletes the folder. */
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  const result = Bun.spawnSync(["openssl", ...args], {
    cwd: dir,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  if (result.exitCode !== 0) {
    throw new Error(`openssl ${args[0]} failed: ${result.stderr.toString().trim()}`);
  }
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function makeCa(dir: string, name: string, commonName: string): void {
  openssl(dir, [
    "req",
    "-x509",
    ...EC_KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=${commonName}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

function makeLeaf(
  dir: string,
  name: string,
  ca: string,
  commonName: string,
  extensions: string[],
): void {
  openssl(dir, [
    "req",
    ...EC_KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${commonName}`,
  ]);
  writeFileSync(join(dir, `${name}.ext`), `${extensions.join("\n")}\n`);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "1",
    "-extfile",
    `${name}.ext`,
  ]);
}

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate it signed, plus an
 * unrelated CA with its own client certificate. Returns null, after printing why, when `openssl`
 * is not installed; with CI=true a missing `openssl` is an error instead.
 */
export function createTestCertificates(
  options: { clientCommonName?: string } = {},
): TestCertificates | null {
  if (Bun.which("openssl") === null) {
    const reason = "openssl is not installed (scripts/install-system-tools.sh installs it)";
    if (process.env.CI === "true") throw new Error(`TLS tests need openssl: ${reason}`);
    console.log(`[tls] TLS tests skipped: ${reason}`);
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), "propgate-tls-"));
  const clientCommonName = options.clientCommonName ?? "propgate-test-client";
  try {
    makeCa(dir, "ca", "Propgate test CA");
    makeCa(dir, "other-ca", "Unrelated test CA");
    const leaf = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature"];
    makeLeaf(dir, "server", "ca", "127.0.0.1", [
      ...leaf,
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]);
    makeLeaf(dir, "client", "ca", clientCommonName, [...leaf, "extendedKeyUsage=clientAuth"]);
    makeLeaf(dir, "other-client", "other-ca", clientCommonName, [
      ...leaf,
      "extendedKeyUsage=clientAuth",
    ]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const file = (name: string) => join(dir, name);
  return {
    dir,
    caFile: file("ca.pem"),
    serverCertFile: file("server.pem"),
    serverKeyFile: file("server.key"),
    clientCertFile: file("client.pem"),
    clientKeyFile: file("client.key"),
    clientCommonName,
    otherCaFile: file("other-ca.pem"),
    otherClientCertFile: file("other-client.pem"),
    otherClientKeyFile: file("other-client.key"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * One more server certificate signed by `certs`' CA, named by `subjectAltName` alone (e.g.
 * `DNS:db.other.example`), in `certs.dir` as `<name>.pem` / `<name>.key`.
 */
export function signServerCertificate(
  certs: TestCertificates,
  name: string,
  subjectAltName: string,
): { certFile: string; keyFile: string } {
  makeLeaf(certs.dir, name, "ca", name, [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth",
    `subjectAltName=${subjectAltName}`,
  ]);
  return { certFile: join(certs.dir, `${name}.pem`), keyFile: join(certs.dir, `${name}.key`) };
}
