import { createPrivateKey, type KeyObject } from "node:crypto";
import {
  ConfigError,
  type EnvSource,
  integer,
  listenAddress,
  parseEnv,
  readConfigFile,
} from "@propgate/config";
import { PARTNERS, SURFACE_SCOPES } from "@propgate/domain";
import { z } from "zod";
import { type Cidr, InvalidCidrError, parseCidr, parseCidrList } from "../net/cidr.ts";

const ARGON2ID_HASH =
  /^\$argon2id\$v=19\$m=\d{1,8},t=\d{1,4},p=\d{1,3}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;
const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;

/** One address (`10.77.0.2`, a single host) or network (`10.77.0.0/29`) a client may come from. */
const ClientAddress = z.string().transform((value, ctx) => {
  const text = value.includes("/") ? value : `${value}/${value.includes(":") ? 128 : 32}`;
  try {
    return parseCidr(text);
  } catch (error) {
    if (!(error instanceof InvalidCidrError)) throw error;
    ctx.addIssue({ code: "custom", message: `must be an IP address or a CIDR: ${error.message}` });
    return z.NEVER;
  }
});

/**
 * A partner's client as the operator registers it: the secret only as a Bun.password hash, and
 * the VPN address(es) it may come from — client ids are not secret, so a token request for one
 * from any other peer is refused as if the id were unknown.
 */
export const PartnerClientRecord = z.strictObject({
  clientId: z.string().regex(/^[A-Za-z0-9._-]{3,64}$/, "clientId must be 3-64 of [A-Za-z0-9._-]"),
  secretHash: z.string().refine((hash) => ARGON2ID_HASH.test(hash) || BCRYPT_HASH.test(hash), {
    message: "secretHash must be an argon2id or bcrypt hash (Bun.password.hash), never a secret",
  }),
  partner: z.enum(PARTNERS),
  scopes: z
    .array(z.enum(SURFACE_SCOPES))
    .min(1)
    .refine((scopes) => new Set(scopes).size === scopes.length, { message: "duplicate scope" }),
  addresses: z.array(ClientAddress).min(1).max(32),
});
export type PartnerClientRecord = z.output<typeof PartnerClientRecord>;

const ClientsFile = z
  .array(PartnerClientRecord)
  .min(1)
  .max(100)
  .superRefine((clients, ctx) => {
    const seen = new Set<string>();
    clients.forEach((client, i) => {
      if (seen.has(client.clientId)) {
        ctx.addIssue({ code: "custom", path: [i, "clientId"], message: "duplicate clientId" });
      }
      seen.add(client.clientId);
    });
  });

/** The key partner tokens are signed with: Ed25519 (EdDSA) or P-256 (ES256). */
export interface SigningKey {
  key: KeyObject;
  alg: "EdDSA" | "ES256";
}

export interface PartnerSurfaceSettings {
  /** Peer addresses (of the socket, never a forwarded header) that may reach the surface at all. */
  allowedCidrs: readonly Cidr[];
  clients: readonly PartnerClientRecord[];
  tokenTtlSeconds: number;
  /**
   * Null: an Ed25519 key is generated when the surface is created and kept in memory, so tokens
   * are valid on this instance only. Several instances need the same PARTNER_TOKEN_KEY_FILE.
   */
  signingKey: SigningKey | null;
  /** Largest request body; default 16 KiB (the bodies are a few short fields). */
  maxBodyBytes?: number;
  /** Secret verifications (argon2id) run at once by the token endpoint; default 2. */
  maxConcurrentVerifications?: number;
  /** Token requests that may wait for a verification slot; beyond it a 503. Default 8. */
  verificationQueue?: number;
  /** An access check denies (`stale_subject`) when the sites are older than this; default 3600. */
  sitesMaxAgeSeconds?: number;
  /** A call reaches a unit's residents whose token named it this recently; default 30 days. */
  unitMembershipMaxAgeSeconds?: number;
  /** Queue journal entries of partner events for tenant-core's webhook; default false. */
  webhookOutbox?: boolean;
}

export interface PartnerSurfaceConfig extends PartnerSurfaceSettings {
  listen: { hostname: string; port: number };
}

const cidrs = z.string().transform((value, ctx) => {
  try {
    return parseCidrList(value);
  } catch (error) {
    if (!(error instanceof InvalidCidrError)) throw error;
    ctx.addIssue({ code: "custom", message: `must be a comma list of CIDRs: ${error.message}` });
    return z.NEVER;
  }
});

/**
 * The partner surface's variables (docs/operations.md, "Partner surface (inbound, VPN only)");
 * PARTNER_LISTEN turns it on.
 */
export const partnerSurfaceEnv = z.object({
  PARTNER_LISTEN: listenAddress.optional().meta({
    description:
      "`host:port` (`[v6]:port`) of the partner surface, on the api's VPN address (`10.80.0.1:8443`). Taken or not an address of this host: startup stops naming it",
    unset: "– (surface off)",
  }),
  PARTNER_ALLOWED_CIDRS: cidrs.optional().meta({
    description:
      "the partners' VPN networks, comma list (`10.80.0.0/24, fd80::/64`, no host bits); any other peer address is refused before anything else",
    unset: "– (required with `PARTNER_LISTEN`)",
  }),
  PARTNER_CLIENTS_FILE: z.string().optional().meta({
    description:
      "JSON `[{ clientId, secretHash, partner, scopes, addresses }]`: secrets as `Bun.password` hashes; `addresses` the client's VPN address(es) or CIDRs — from anywhere else its id is an unknown client",
    unset: "– (required with `PARTNER_LISTEN`)",
  }),
  PARTNER_TOKEN_TTL_SECONDS: integer(30, 3600)
    .default(300)
    .meta({ description: "lifetime of the access tokens the surface issues (30–3600)" }),
  PARTNER_TOKEN_KEY_FILE: z.string().optional().meta({
    description:
      "Ed25519 / P-256 private key (PEM or JWK) signing those tokens; one file for all instances, else a token is good only on the instance that issued it",
    unset: "– (a key made at start, this instance only)",
  }),
  // Two on a 2-core host: argon2id takes a core each, the residents' api keeps its share.
  PARTNER_TOKEN_MAX_CONCURRENT_VERIFICATIONS: integer(1, 64).default(2).meta({
    description:
      "client secrets checked at once (argon2id: ~0.1–0.3 s of a core and 64 MiB each); 2 suits 2 cores",
  }),
  PARTNER_TOKEN_VERIFICATION_QUEUE: integer(0, 1000).default(8).meta({
    description:
      "token requests that may wait for a check; beyond, `503 temporarily_unavailable` with `Retry-After: 1`",
  }),
  // At least twice the 5 min in which an instance refreshes a calling resident's row at most once.
  ACCESS_CHECK_SITES_MAX_AGE_SECONDS: integer(600, 30 * 86_400)
    .default(3600)
    .meta({
      description:
        "an access check denies `stale_subject` when the resident's sites were last confirmed longer ago (≥ 600; one resident-token lifetime)",
    }),
  // Long: a resident who has not opened the app for a week must still hear the door.
  UNIT_MEMBERSHIP_MAX_AGE_SECONDS: integer(600, 365 * 86_400)
    .default(30 * 86_400)
    .meta({
      description:
        "a partner's call to a unit reaches the residents whose token named the unit (`units` claim) at most this long ago",
    }),
});

/** Reads and checks the partner clients file; problems name the entry, never a value. */
export function parseClientsFile(text: string): PartnerClientRecord[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError("PARTNER_CLIENTS_FILE", "is invalid: not JSON");
  }
  const result = ClientsFile.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `[${issue.path.join("].[")}] ` : "";
  throw new ConfigError("PARTNER_CLIENTS_FILE", `is invalid: ${where}${issue?.message}`);
}

/** Turns a PEM (PKCS#8) or JWK private key into a signing key, if it is Ed25519 or P-256. */
export function parseSigningKey(text: string): SigningKey {
  const problem = "must hold an Ed25519 or P-256 private key (PEM or JWK)";
  let key: KeyObject;
  try {
    const trimmed = text.trim();
    key = trimmed.startsWith("{")
      ? createPrivateKey({ key: JSON.parse(trimmed), format: "jwk" })
      : createPrivateKey(trimmed);
  } catch {
    throw new ConfigError("PARTNER_TOKEN_KEY_FILE", problem);
  }
  if (key.asymmetricKeyType === "ed25519") return { key, alg: "EdDSA" };
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    return { key, alg: "ES256" };
  }
  throw new ConfigError("PARTNER_TOKEN_KEY_FILE", problem);
}

/**
 * The partner surface's settings, or null when PARTNER_LISTEN is unset (the surface is off).
 * With PARTNER_LISTEN, PARTNER_ALLOWED_CIDRS and PARTNER_CLIENTS_FILE are required.
 */
export function loadPartnerSurfaceConfig(source: EnvSource): PartnerSurfaceConfig | null {
  const env = parseEnv(partnerSurfaceEnv, source);
  if (!env.PARTNER_LISTEN) return null;
  if (!env.PARTNER_ALLOWED_CIDRS) {
    throw new ConfigError("PARTNER_ALLOWED_CIDRS", "is missing (required with PARTNER_LISTEN)");
  }
  if (!env.PARTNER_CLIENTS_FILE) {
    throw new ConfigError("PARTNER_CLIENTS_FILE", "is missing (required with PARTNER_LISTEN)");
  }
  const clients = parseClientsFile(
    readConfigFile("PARTNER_CLIENTS_FILE", env.PARTNER_CLIENTS_FILE),
  );
  const signingKey = env.PARTNER_TOKEN_KEY_FILE
    ? parseSigningKey(readConfigFile("PARTNER_TOKEN_KEY_FILE", env.PARTNER_TOKEN_KEY_FILE))
    : null;
  return {
    listen: env.PARTNER_LISTEN,
    allowedCidrs: env.PARTNER_ALLOWED_CIDRS,
    clients,
    tokenTtlSeconds: env.PARTNER_TOKEN_TTL_SECONDS,
    signingKey,
    maxConcurrentVerifications: env.PARTNER_TOKEN_MAX_CONCURRENT_VERIFICATIONS,
    verificationQueue: env.PARTNER_TOKEN_VERIFICATION_QUEUE,
    sitesMaxAgeSeconds: env.ACCESS_CHECK_SITES_MAX_AGE_SECONDS,
    unitMembershipMaxAgeSeconds: env.UNIT_MEMBERSHIP_MAX_AGE_SECONDS,
  };
}
