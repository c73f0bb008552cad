import { readFileSync } from "node:fs";
import {
  ConfigError,
  certificateFiles,
  type EnvSource,
  host,
  integer,
  parseEnv,
  pemFile,
  port,
  url,
} from "@propgate/config";
import { PartnerDeviceId } from "@propgate/partner-client/contract";
import { z } from "zod";
import { DIALECTS } from "./faults.ts";
import { DEFAULT_NAME, type PartnerSimOptions, SimClients, SimName } from "./options.ts";

const CLIENTS_SHAPE = "must be a JSON array of {clientId, clientSecret, scopes}";

/** JSON text of the sim's OAuth clients, checked against `SimClients`. */
const clientsJson = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: CLIENTS_SHAPE });
      return z.NEVER;
    }
  })
  .pipe(SimClients);

const deviceList = z
  .string()
  .transform((text) =>
    text
      .split(",")
      .map((id) => id.trim())
      .filter((id) => id !== ""),
  )
  .pipe(z.array(PartnerDeviceId));

const SimEnvSchema = z.object({
  HOST: host.default("127.0.0.1"),
  PORT: port.default(0),
  ADMIN_PORT: port.default(0),
  SIM_NAME: SimName.default(DEFAULT_NAME),
  SIM_CLIENTS: z.string().optional(),
  SIM_CLIENTS_FILE: z.string().optional(),
  SIM_INTERCOMS: deviceList.default([]),
  SIM_BARRIERS: deviceList.default([]),
  SIM_CAMERAS: deviceList.default([]),
  SIM_VIDEO_TTL_SECONDS: integer(1, 86_400).default(300),
  SIM_DIALECT: z.enum(DIALECTS).default("propgate"),
  SIM_TOKEN_LIFETIME_SECONDS: integer(1, 86_400).default(300),
  SIM_AUDIENCE: z.string().max(512).optional(),
  SIM_PUBLIC_URL: url.optional(),
  SIM_TLS_CERT_FILE: z.string().optional(),
  SIM_TLS_KEY_FILE: z.string().optional(),
  SIM_TLS_CLIENT_CA_FILE: z.string().optional(),
});

/** HTTPS from SIM_TLS_CERT_FILE + SIM_TLS_KEY_FILE; client certificates when SIM_TLS_CLIENT_CA_FILE is set. */
function tlsFromEnv(parsed: z.infer<typeof SimEnvSchema>): PartnerSimOptions["tls"] {
  const files = certificateFiles(
    { SIM_TLS_CERT_FILE: parsed.SIM_TLS_CERT_FILE, SIM_TLS_KEY_FILE: parsed.SIM_TLS_KEY_FILE },
    "SIM_TLS_CERT_FILE",
    "SIM_TLS_KEY_FILE",
  );
  const caFile = parsed.SIM_TLS_CLIENT_CA_FILE;
  if (files === null) {
    if (caFile === undefined) return undefined;
    throw new ConfigError(
      "SIM_TLS_CLIENT_CA_FILE",
      "needs SIM_TLS_CERT_FILE and SIM_TLS_KEY_FILE (client certificates need HTTPS)",
    );
  }
  if (caFile === undefined) return { ...files, requireClientCert: false };
  return {
    ...files,
    caFile: pemFile("SIM_TLS_CLIENT_CA_FILE", caFile, "certificate"),
    requireClientCert: true,
  };
}

function parseClients(variable: string, text: string): PartnerSimOptions["clients"] {
  const result = clientsJson.safeParse(text);
  if (result.success) return result.data;
  throw new ConfigError(
    variable,
    `is invalid: ${result.error.issues[0]?.message ?? CLIENTS_SHAPE}`,
  );
}

/**
 * The sim's options from the environment (`process.env` by default). Throws a `ConfigError`
 * naming the first bad or missing variable, never its value.
 */
export function loadSimEnv(env: EnvSource = process.env): PartnerSimOptions {
  const parsed = parseEnv(SimEnvSchema, env);
  let clients: PartnerSimOptions["clients"];
  if (parsed.SIM_CLIENTS !== undefined && parsed.SIM_CLIENTS_FILE !== undefined) {
    throw new ConfigError("SIM_CLIENTS", "and SIM_CLIENTS_FILE are both set; set one");
  } else if (parsed.SIM_CLIENTS !== undefined) {
    clients = parseClients("SIM_CLIENTS", parsed.SIM_CLIENTS);
  } else if (parsed.SIM_CLIENTS_FILE !== undefined) {
    let text: string;
    try {
      text = readFileSync(parsed.SIM_CLIENTS_FILE, "utf8");
    } catch {
      throw new ConfigError("SIM_CLIENTS_FILE", "cannot be read");
    }
    clients = parseClients("SIM_CLIENTS_FILE", text);
  } else {
    throw new ConfigError("SIM_CLIENTS", "is missing (or set SIM_CLIENTS_FILE)");
  }
  const tls = tlsFromEnv(parsed);
  return {
    name: parsed.SIM_NAME,
    hostname: parsed.HOST,
    port: parsed.PORT,
    adminPort: parsed.ADMIN_PORT,
    clients,
    tokenLifetimeSeconds: parsed.SIM_TOKEN_LIFETIME_SECONDS,
    intercoms: parsed.SIM_INTERCOMS,
    barriers: parsed.SIM_BARRIERS,
    cameras: parsed.SIM_CAMERAS,
    videoSessionTtlSeconds: parsed.SIM_VIDEO_TTL_SECONDS,
    dialect: parsed.SIM_DIALECT,
    ...(parsed.SIM_AUDIENCE === undefined ? {} : { audience: parsed.SIM_AUDIENCE }),
    ...(parsed.SIM_PUBLIC_URL === undefined
      ? {}
      : { publicUrl: parsed.SIM_PUBLIC_URL.href.replace(/\/+$/, "") }),
    ...(tls === undefined ? {} : { tls }),
  };
}
