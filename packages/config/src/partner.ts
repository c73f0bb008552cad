import { z } from "zod";
import { hexOrBase64Key, integer, url } from "./fields.ts";
import { ConfigError, type EnvSource, parseEnv, readConfigFile } from "./parse.ts";
import { pemFile } from "./tls.ts";
import { checkPartnerUrl } from "./urls.ts";

export interface PartnerSettings {
  name: string;
  baseUrl: URL;
  /** RFC 8414 issuer for discovery; absent when a token URL is configured directly. */
  issuer: URL | null;
  tokenUrl: URL | null;
  clientId: string;
  clientSecret: string;
  caFile: string | null;
  clientCertFile: string | null;
  clientKeyFile: string | null;
  /** Key of the subject pseudonym HMAC for this partner. */
  subjectKey: Uint8Array;
  /** Deadline of one partner call, retries included. */
  timeoutMs: number;
}

function readSecretFile(variable: string, path: string): string {
  const text = readConfigFile(variable, path).trim();
  if (!text) throw new ConfigError(variable, "points at an empty file");
  return text;
}

interface PartnerSettingsOptions {
  /** Plain http to a loopback host (development and test only). */
  allowInsecureLoopback: boolean;
  /**
   * `_CLIENT_SECRET` and `_SUBJECT_KEY` given inline. A long-running production process refuses
   * them: its environment shows in `/proc/<pid>/environ`, `docker inspect` and unit files.
   */
  allowInlineSecrets: boolean;
}

/**
 * The `PARTNER_<NAME>_*` variables of one partner. `partnerEnv("<P>")` is their row in the
 * configuration reference; `inlineSecretsTaken` says, for that reference only, that the program
 * takes `_CLIENT_SECRET` and `_SUBJECT_KEY` inline in production too (`partner verify`).
 */
export function partnerEnv(name: string, reference: { inlineSecretsTaken?: boolean } = {}) {
  const p = `PARTNER_${name.toUpperCase()}_`;
  const inline = (file: string) =>
    reference.inlineSecretsTaken
      ? "taken inline too (a check run by hand lives seconds in a shell, not in a unit file)"
      : `refused inline (the environment is not secret): set \`${p}${file}\``;
  const https = "must be https (plain http to loopback only outside production)";
  return z.object({
    [`${p}BASE_URL`]: url.meta({
      description: "the partner API's base URL",
      production: https,
    }),
    [`${p}ISSUER`]: url.optional().meta({
      description: `the partner's OAuth issuer: its RFC 8414 metadata, else OpenID Connect discovery's, gives the token endpoint. One of it and \`${p}TOKEN_URL\` is required`,
      production: https,
    }),
    [`${p}TOKEN_URL`]: url.optional().meta({
      description: "the partner's token endpoint, used as is (with both, this one is used)",
      production: https,
    }),
    [`${p}CLIENT_ID`]: z
      .string()
      .regex(/^[\x21-\x7e]{1,200}$/, "must be 1-200 printable characters")
      .meta({ description: "our OAuth client id at the partner" }),
    [`${p}CLIENT_SECRET`]: z
      .string()
      .optional()
      .meta({
        description: `our client secret at the partner; one of it and \`${p}CLIENT_SECRET_FILE\` is required`,
        production: inline("CLIENT_SECRET_FILE"),
      }),
    [`${p}CLIENT_SECRET_FILE`]: z.string().optional().meta({
      description: "file holding the client secret (read once at start, trimmed)",
    }),
    [`${p}SUBJECT_KEY`]: z
      .string()
      .optional()
      .meta({
        description: `key (≥ 32 bytes, hex or base64) of the HMAC that turns a resident into the opaque subject this partner sees; one of it and \`${p}SUBJECT_KEY_FILE\` is required`,
        production: inline("SUBJECT_KEY_FILE"),
      }),
    [`${p}SUBJECT_KEY_FILE`]: z.string().optional().meta({
      description: "file holding the subject key",
    }),
    [`${p}CA_FILE`]: z.string().optional().meta({
      description:
        "PEM CA that signed the partner's certificate (a private CA); replaces the system CAs for everything sent to this partner",
      unset: "system CAs",
    }),
    [`${p}CLIENT_CERT_FILE`]: z
      .string()
      .optional()
      .meta({
        description: `PEM client certificate for mTLS to the partner, with \`${p}CLIENT_KEY_FILE\` (both or neither)`,
      }),
    [`${p}CLIENT_KEY_FILE`]: z
      .string()
      .optional()
      .meta({
        description: `PEM private key of \`${p}CLIENT_CERT_FILE\``,
      }),
    [`${p}TIMEOUT_MS`]: integer(100, 120_000)
      .default(5000)
      .meta({ description: "deadline of one partner call, retries included (100–120000)" }),
  });
}

/**
 * Reads `PARTNER_<NAME>_*` settings (`partnerEnv`): _BASE_URL, _ISSUER or _TOKEN_URL, _CLIENT_ID,
 * _CLIENT_SECRET or _CLIENT_SECRET_FILE, _SUBJECT_KEY or _SUBJECT_KEY_FILE, _CA_FILE,
 * _CLIENT_CERT_FILE with _CLIENT_KEY_FILE, _TIMEOUT_MS.
 */
export function partnerSettings(
  name: string,
  env: EnvSource,
  options: PartnerSettingsOptions,
): PartnerSettings {
  const p = `PARTNER_${name.toUpperCase()}_`;
  const schema = partnerEnv(name);
  const raw = parseEnv(schema, env) as Record<string, unknown>;
  const str = (key: string) => raw[`${p}${key}`] as string | undefined;
  const link = (key: string) => raw[`${p}${key}`] as URL | undefined;

  const baseUrl = link("BASE_URL") as URL;
  const issuer = link("ISSUER") ?? null;
  const tokenUrl = link("TOKEN_URL") ?? null;
  if (!issuer && !tokenUrl)
    throw new ConfigError(`${p}ISSUER`, `is missing (or set ${p}TOKEN_URL)`);
  for (const [key, value] of [
    ["BASE_URL", baseUrl],
    ["ISSUER", issuer],
    ["TOKEN_URL", tokenUrl],
  ] as const) {
    if (!value) continue;
    const problem = checkPartnerUrl(value, options.allowInsecureLoopback);
    if (problem) throw new ConfigError(`${p}${key}`, `is invalid: ${problem}`);
  }

  /** The inline value of a secret that also has a `_FILE` form, unless it is refused here. */
  const inlineSecret = (key: string): string | undefined => {
    const value = str(key);
    if (value === undefined) return undefined;
    if (str(`${key}_FILE`) !== undefined)
      throw new ConfigError(`${p}${key}`, `and ${p}${key}_FILE are both set`);
    if (!options.allowInlineSecrets)
      throw new ConfigError(
        `${p}${key}`,
        `is refused in production (the environment is not secret): put it in a file and set ${p}${key}_FILE`,
      );
    return value;
  };

  const secretValue = inlineSecret("CLIENT_SECRET");
  const secretFile = str("CLIENT_SECRET_FILE");
  const clientSecret =
    secretValue ?? (secretFile ? readSecretFile(`${p}CLIENT_SECRET_FILE`, secretFile) : undefined);
  if (!clientSecret)
    throw new ConfigError(`${p}CLIENT_SECRET`, `is missing (or set ${p}CLIENT_SECRET_FILE)`);

  const keyValue = inlineSecret("SUBJECT_KEY");
  const keyFile = str("SUBJECT_KEY_FILE");
  const keyText =
    keyValue ?? (keyFile ? readSecretFile(`${p}SUBJECT_KEY_FILE`, keyFile) : undefined);
  if (!keyText)
    throw new ConfigError(`${p}SUBJECT_KEY`, `is missing (or set ${p}SUBJECT_KEY_FILE)`);
  const key = hexOrBase64Key.safeParse(keyText);
  if (!key.success)
    throw new ConfigError(
      keyValue ? `${p}SUBJECT_KEY` : `${p}SUBJECT_KEY_FILE`,
      `is invalid: ${key.error.issues[0]?.message}`,
    );

  const pem = (key: string, holds: "certificate" | "key") => {
    const path = str(key);
    return path === undefined ? null : pemFile(`${p}${key}`, path, holds);
  };
  const clientCertFile = pem("CLIENT_CERT_FILE", "certificate");
  const clientKeyFile = pem("CLIENT_KEY_FILE", "key");
  if ((clientCertFile === null) !== (clientKeyFile === null)) {
    throw new ConfigError(
      clientCertFile ? `${p}CLIENT_KEY_FILE` : `${p}CLIENT_CERT_FILE`,
      "is missing (mTLS needs both the certificate and the key)",
    );
  }

  return {
    name,
    baseUrl,
    issuer,
    tokenUrl,
    clientId: str("CLIENT_ID") as string,
    clientSecret,
    caFile: pem("CA_FILE", "certificate"),
    clientCertFile,
    clientKeyFile,
    subjectKey: key.data,
    timeoutMs: raw[`${p}TIMEOUT_MS`] as number,
  };
}
