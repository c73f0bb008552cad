import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@propgate/config";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { createLogger, createMetrics } from "@propgate/observability";
import { createCidrMatcher, parseCidr, parseCidrList } from "../src/net/cidr.ts";
import { loadPartnerSurfaceConfig } from "../src/partner-surface/config.ts";
import type { PartnerSurfaceDeps } from "../src/partner-surface/context.ts";
import { createPartnerSurface } from "../src/partner-surface/surface.ts";

let dir: string;
let database: TestDatabase;
const SECRET = `plain-secret-${crypto.randomUUID()}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "propgate-partner-config-"));
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

async function clientsFile(name = "clients.json"): Promise<string> {
  return file(
    name,
    JSON.stringify([
      {
        clientId: "ic-gateway",
        secretHash: await Bun.password.hash(SECRET, {
          algorithm: "argon2id",
          memoryCost: 4096,
          timeCost: 1,
        }),
        partner: "intercom",
        scopes: ["events.write"],
        addresses: ["10.80.0.2"],
      },
    ]),
  );
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("PARTNER_ALLOWED_CIDRS parsing", () => {
  test("accepts IPv4 and IPv6 networks, spaces around commas", () => {
    expect(parseCidrList("10.80.0.0/24, fd80::/64,127.0.0.0/8 ,0.0.0.0/0,::/0")).toEqual([
      { address: "10.80.0.0", prefix: 24, family: "ipv4" },
      { address: "fd80::", prefix: 64, family: "ipv6" },
      { address: "127.0.0.0", prefix: 8, family: "ipv4" },
      { address: "0.0.0.0", prefix: 0, family: "ipv4" },
      { address: "::", prefix: 0, family: "ipv6" },
    ]);
    expect(parseCidr("10.80.0.2/32").prefix).toBe(32);
    expect(parseCidr("::ffff:10.80.0.0/120").family).toBe("ipv6");
  });

  test.each([
    ["10.80.0.1/24", "host bits"],
    ["fd80::1/64", "host bits"],
    ["10.80.0.0/33", "prefix above 32"],
    ["fd80::/129", "prefix above 128"],
    ["10.80.0.0", "<address>/<prefix>"],
    ["10.80.0.0/024", "<address>/<prefix>"],
    ["10.080.0.0/24", "no valid IP"],
    ["256.0.0.0/8", "no valid IP"],
    ["fe80::%eth0/64", "no valid IP"],
    ["vpn/8", "no valid IP"],
    ["10.80.0.0/24,", "entry 2 is empty"],
    ["", "entry 1 is empty"],
  ])("refuses %p (%s)", (text, problem) => {
    expect(() => parseCidrList(text)).toThrow(problem);
  });

  test("the matcher judges IPv4-mapped peers as IPv4 and refuses what is not an address", () => {
    const inside = createCidrMatcher(parseCidrList("10.80.0.0/24, fd80::/64"));
    expect(inside("10.80.0.2")).toBe(true);
    expect(inside("::ffff:10.80.0.2")).toBe(true);
    expect(inside("fd80::2")).toBe(true);
    expect(inside("10.80.1.2")).toBe(false);
    expect(inside("::ffff:10.80.1.2")).toBe(false);
    expect(inside("fd81::2")).toBe(false);
    expect(inside(null)).toBe(false);
    expect(inside("10.80.0.2, 10.80.0.3")).toBe(false);
  });
});

describe("loadPartnerSurfaceConfig", () => {
  test("off when PARTNER_LISTEN is unset", () => {
    expect(loadPartnerSurfaceConfig({})).toBeNull();
  });

  test("a full configuration", async () => {
    const config = loadPartnerSurfaceConfig({
      PARTNER_LISTEN: "[fd80::1]:8443",
      PARTNER_ALLOWED_CIDRS: "fd80::/64",
      PARTNER_CLIENTS_FILE: await clientsFile(),
    });
    expect(config?.listen).toEqual({ hostname: "fd80::1", port: 8443 });
    expect(config?.tokenTtlSeconds).toBe(300);
    expect(config?.signingKey).toBeNull();
    expect(config?.clients.map((client) => client.clientId)).toEqual(["ic-gateway"]);
  });

  test("each bad or missing setting stops startup naming the variable", async () => {
    const clients = await clientsFile();
    const base = {
      PARTNER_LISTEN: "10.80.0.1:8443",
      PARTNER_ALLOWED_CIDRS: "10.80.0.0/24",
      PARTNER_CLIENTS_FILE: clients,
    };
    const cases: Array<[Record<string, string>, string]> = [
      [{ PARTNER_LISTEN: "10.80.0.1" }, "PARTNER_LISTEN"],
      [{ PARTNER_LISTEN: "10.80.0.1:70000" }, "PARTNER_LISTEN"],
      [{ PARTNER_ALLOWED_CIDRS: "" }, "PARTNER_ALLOWED_CIDRS"],
      [{ PARTNER_ALLOWED_CIDRS: "10.80.0.1/24" }, "PARTNER_ALLOWED_CIDRS"],
      [{ PARTNER_CLIENTS_FILE: "" }, "PARTNER_CLIENTS_FILE"],
      [{ PARTNER_CLIENTS_FILE: join(dir, "missing.json") }, "PARTNER_CLIENTS_FILE"],
      [{ PARTNER_TOKEN_TTL_SECONDS: "86400" }, "PARTNER_TOKEN_TTL_SECONDS"],
      [{ PARTNER_TOKEN_KEY_FILE: join(dir, "missing.pem") }, "PARTNER_TOKEN_KEY_FILE"],
    ];
    for (const [override, variable] of cases) {
      expect({
        override,
        variable: configError(() => loadPartnerSurfaceConfig({ ...base, ...override })).variable,
      }).toEqual({ override, variable });
    }
  });

  test("a clients file with a plaintext secret, a duplicate or an unknown scope is refused without echoing it", () => {
    const entry = {
      clientId: "ic-gateway",
      secretHash: "$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      partner: "intercom",
      scopes: ["events.write"],
      addresses: ["10.80.0.2", "10.80.1.0/29"],
    };
    const cases: Array<[unknown, string]> = [
      [[{ ...entry, secretHash: SECRET }], "[0].[secretHash]"],
      [[entry, entry], "duplicate clientId"],
      [[{ ...entry, scopes: ["intercom.open"] }], "[0].[scopes].[0]"],
      [[{ ...entry, partner: "elevator" }], "[0].[partner]"],
      [[{ ...entry, addresses: [] }], "[0].[addresses]"],
      [[{ ...entry, addresses: ["10.80.0.2", "10.80.1.1/29"] }], "[0].[addresses].[1]"],
      [[{ ...entry, addresses: ["vpn-peer"] }], "[0].[addresses].[0]"],
      [
        [
          {
            scopes: entry.scopes,
            clientId: "x-1",
            secretHash: entry.secretHash,
            partner: "intercom",
          },
        ],
        "[0].[addresses]",
      ],
      [[{ ...entry, secret: SECRET }], "[0]"],
      [[], "PARTNER_CLIENTS_FILE"],
      ["{", "not JSON"],
    ];
    for (const [content, where] of cases) {
      const path = file(
        "bad-clients.json",
        typeof content === "string" ? content : JSON.stringify(content),
      );
      const error = configError(() =>
        loadPartnerSurfaceConfig({
          PARTNER_LISTEN: "10.80.0.1:8443",
          PARTNER_ALLOWED_CIDRS: "10.80.0.0/24",
          PARTNER_CLIENTS_FILE: path,
        }),
      );
      expect(error.variable).toBe("PARTNER_CLIENTS_FILE");
      expect(error.message).toContain(where);
      expect(error.message).not.toContain(SECRET);
    }
  });

  test("PARTNER_TOKEN_KEY_FILE takes an Ed25519 PEM or a P-256 JWK, nothing else", async () => {
    const base = {
      PARTNER_LISTEN: "10.80.0.1:8443",
      PARTNER_ALLOWED_CIDRS: "10.80.0.0/24",
      PARTNER_CLIENTS_FILE: await clientsFile(),
    };
    const ed25519 = generateKeyPairSync("ed25519").privateKey.export({
      type: "pkcs8",
      format: "pem",
    });
    const p256 = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      format: "jwk",
    });
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    });
    const load = (content: string) =>
      loadPartnerSurfaceConfig({ ...base, PARTNER_TOKEN_KEY_FILE: file("key", content) });
    expect(load(String(ed25519))?.signingKey?.alg).toBe("EdDSA");
    expect(load(JSON.stringify(p256))?.signingKey?.alg).toBe("ES256");
    expect(configError(() => load(String(rsa))).variable).toBe("PARTNER_TOKEN_KEY_FILE");
    expect(configError(() => load("not a key")).variable).toBe("PARTNER_TOKEN_KEY_FILE");
  });
});

describe("several instances", () => {
  test("a token from one instance is good on another only when they share the key file", async () => {
    const deps: PartnerSurfaceDeps = {
      database,
      logger: createLogger({ name: "api", level: "silent" }),
      metrics: createMetrics({ app: "api" }),
      instanceId: "api-key-test",
    };
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    });
    const env = {
      PARTNER_LISTEN: "10.80.0.1:8443",
      PARTNER_ALLOWED_CIDRS: "10.80.0.0/24",
      PARTNER_CLIENTS_FILE: await clientsFile(),
    };
    const shared = loadPartnerSurfaceConfig({
      ...env,
      PARTNER_TOKEN_KEY_FILE: file("shared.pem", String(key)),
    });
    const ownKey = loadPartnerSurfaceConfig(env);
    if (!shared || !ownKey) throw new Error("no config");
    const a = createPartnerSurface(deps, shared);
    const b = createPartnerSurface(deps, shared);
    const c = createPartnerSurface(deps, ownKey);
    const peer = { peerAddress: "10.80.0.2" };
    const issued = await a.request(
      "/oauth/token",
      {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${btoa(`ic-gateway:${SECRET}`)}`,
        },
        body: "grant_type=client_credentials",
      },
      peer,
    );
    expect(issued.status).toBe(200);
    const { access_token: token } = (await issued.json()) as { access_token: string };
    const event = (app: typeof a) =>
      app.request(
        "/partner/v1/events",
        {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({
            type: "device.online",
            deviceId: "ic-a1",
            at: new Date().toISOString(),
          }),
        },
        peer,
      );
    expect((await event(b)).status).toBe(202);
    expect((await event(c)).status).toBe(401);
  });
});
