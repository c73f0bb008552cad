import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@propgate/config";
import { loadSimEnv } from "../src/env.ts";
import { startPartnerSim } from "../src/index.ts";
import { createTestCertificates } from "../src/testing.ts";
import { basicAuth, DOOR_APP, startTestSim } from "./helpers.ts";

const certs = createTestCertificates();
afterAll(() => certs?.remove());

const read = (file: string) => readFileSync(file, "utf8");

/** What a fetch with these TLS settings ends in: the HTTP status, or "refused" with no answer. */
async function outcome(url: string, tls: Record<string, string>, init: RequestInit = {}) {
  try {
    const response = await fetch(url, { ...init, tls });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    // TLS refusals surface as different codes (EPROTO, ECONNRESET, a verify error) by timing.
    if (error instanceof TypeError) return "refused";
    throw error;
  }
}

function tokenRequest(url: string, tls: Record<string, string>) {
  return outcome(`${url}/oauth/token`, tls, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: basicAuth(DOOR_APP.clientId, DOOR_APP.clientSecret),
    },
    body: "grant_type=client_credentials",
  });
}

describe.skipIf(certs === null)("HTTPS", () => {
  test("with a certificate the API, the issuer and the admin API are https", async () => {
    if (!certs) return;
    const sim = await startTestSim({
      tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile },
    });
    try {
      expect(sim.url).toStartWith("https://127.0.0.1:");
      expect(sim.adminUrl).toStartWith("https://127.0.0.1:");
      expect(sim.issuer).toBe(sim.url);
      const trust = { ca: read(certs.caFile) };
      const metadata = await fetch(`${sim.url}/.well-known/oauth-authorization-server`, {
        tls: trust,
      });
      expect(((await metadata.json()) as { token_endpoint: string }).token_endpoint).toBe(
        `${sim.url}/oauth/token`,
      );
      expect(await tokenRequest(sim.url, trust)).toBe(200);
      expect(await outcome(`${sim.adminUrl}/admin/faults`, trust)).toBe(200);
      expect(sim.recorder.all().map((record) => record.tls)).toEqual(["server", "server"]);
      // Not trusting the test CA: the handshake fails and nothing reaches the sim.
      expect(await tokenRequest(sim.url, {})).toBe("refused");
      expect(sim.recorder.count()).toBe(2);
    } finally {
      await sim.stop();
    }
  });

  test("with a client CA, the API admits only clients with a certificate it signed", async () => {
    if (!certs) return;
    const sim = await startTestSim({
      tls: {
        cert: read(certs.serverCertFile),
        key: read(certs.serverKeyFile),
        caFile: certs.caFile,
      },
    });
    try {
      const ca = read(certs.caFile);
      const client = { cert: read(certs.clientCertFile), key: read(certs.clientKeyFile) };
      expect(await tokenRequest(sim.url, { ca, ...client })).toBe(200);
      expect(sim.recorder.all({ operation: "token" })).toMatchObject([
        { status: 200, tls: "mutual", clientId: DOOR_APP.clientId },
      ]);

      expect(await tokenRequest(sim.url, { ca })).toBe("refused");
      const stranger = {
        ca,
        cert: read(certs.otherClientCertFile),
        key: read(certs.otherClientKeyFile),
      };
      expect(await tokenRequest(sim.url, stranger)).toBe("refused");
      expect(sim.recorder.count()).toBe(1);

      // The admin listener serves the same certificate and asks for none.
      expect(await outcome(`${sim.adminUrl}/admin/requests`, { ca })).toBe(200);
    } finally {
      await sim.stop();
    }
  });

  test("plain http records no tls", async () => {
    const sim = await startTestSim();
    try {
      expect(sim.url).toStartWith("http://");
      await fetch(`${sim.url}/.well-known/oauth-authorization-server`);
      expect(sim.recorder.all()[0]?.tls).toBeUndefined();
    } finally {
      await sim.stop();
    }
  });
});

describe("TLS options", () => {
  test("are checked before anything listens", async () => {
    const start = (tls: Parameters<typeof startPartnerSim>[0]["tls"]) =>
      startPartnerSim({ clients: [DOOR_APP], tls });
    await expect(start({ key: "k" })).rejects.toThrow("cert or certFile is required");
    await expect(start({ cert: "c" })).rejects.toThrow("key or keyFile is required");
    await expect(start({ cert: "c", certFile: "/x", key: "k" })).rejects.toThrow(
      "give cert or certFile, not both",
    );
    await expect(start({ cert: "c", key: "k", requireClientCert: true })).rejects.toThrow(
      "requireClientCert needs ca or caFile",
    );
  });
});

describe("SIM_TLS_* variables", () => {
  const dir = mkdtempSync(join(tmpdir(), "partner-sim-tls-env-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  writeFileSync(cert, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  writeFileSync(key, "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n");
  const CLIENTS = JSON.stringify([DOOR_APP]);

  function configErrorOf(env: Record<string, string>): string {
    try {
      loadSimEnv({ SIM_CLIENTS: CLIENTS, ...env });
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    throw new Error("expected a ConfigError");
  }

  test("none set: plain http", () => {
    expect(loadSimEnv({ SIM_CLIENTS: CLIENTS }).tls).toBeUndefined();
  });

  test("certificate and key: HTTPS; a client CA adds client certificates", () => {
    expect(
      loadSimEnv({ SIM_CLIENTS: CLIENTS, SIM_TLS_CERT_FILE: cert, SIM_TLS_KEY_FILE: key }).tls,
    ).toEqual({ certFile: cert, keyFile: key, requireClientCert: false });
    expect(
      loadSimEnv({
        SIM_CLIENTS: CLIENTS,
        SIM_TLS_CERT_FILE: cert,
        SIM_TLS_KEY_FILE: key,
        SIM_TLS_CLIENT_CA_FILE: cert,
      }).tls,
    ).toEqual({ certFile: cert, keyFile: key, caFile: cert, requireClientCert: true });
  });

  test("a missing half, a CA without a certificate, or an unreadable file is named", () => {
    expect(configErrorOf({ SIM_TLS_CERT_FILE: cert })).toBe(
      "config: SIM_TLS_KEY_FILE is missing (SIM_TLS_CERT_FILE is set; TLS needs both)",
    );
    expect(configErrorOf({ SIM_TLS_KEY_FILE: key })).toBe(
      "config: SIM_TLS_CERT_FILE is missing (SIM_TLS_KEY_FILE is set; TLS needs both)",
    );
    expect(configErrorOf({ SIM_TLS_CLIENT_CA_FILE: cert })).toBe(
      "config: SIM_TLS_CLIENT_CA_FILE needs SIM_TLS_CERT_FILE and SIM_TLS_KEY_FILE (client certificates need HTTPS)",
    );
    expect(
      configErrorOf({
        SIM_TLS_CERT_FILE: cert,
        SIM_TLS_KEY_FILE: key,
        SIM_TLS_CLIENT_CA_FILE: join(dir, "absent.pem"),
      }),
    ).toBe("config: SIM_TLS_CLIENT_CA_FILE points at a file that cannot be read");
  });
});
