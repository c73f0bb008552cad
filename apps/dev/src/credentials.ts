import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { JWK } from "jose";
import { z } from "zod";
import { generateIssuerKey } from "./issuer.ts";

const PartnerCredentials = z.object({
  clientId: z.string(),
  clientSecret: z.string(),
  subjectKey: z.string(),
});
const DevCredentials = z.object({
  issuerKey: z.record(z.string(), z.unknown()),
  intercom: PartnerCredentials,
  barrier: PartnerCredentials,
});
export type DevCredentials = z.infer<typeof DevCredentials> & { issuerKey: JWK };

function partnerCredentials(name: string) {
  return {
    clientId: `propgate-${name}`,
    clientSecret: randomBytes(32).toString("base64url"),
    subjectKey: randomBytes(32).toString("hex"),
  };
}

/**
 * Credentials of the embedded default, made on first start and kept in `<dataDir>/dev-credentials.json`
 * (mode 0600, under the git-ignored .data/). Without a dataDir they live in memory only.
 */
export async function loadOrCreateDevCredentials(dataDir: string | null): Promise<DevCredentials> {
  const file = dataDir ? join(dataDir, "dev-credentials.json") : null;
  if (file && existsSync(file)) {
    const parsed = DevCredentials.safeParse(JSON.parse(readFileSync(file, "utf8")));
    if (parsed.success) return parsed.data as DevCredentials;
  }
  const created: DevCredentials = {
    issuerKey: await generateIssuerKey(),
    intercom: partnerCredentials("intercom"),
    barrier: partnerCredentials("barrier"),
  };
  if (file && dataDir) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(created, null, 2), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return created;
}
