import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Partner } from "@propgate/domain";
import type { PartnerSim } from "@propgate/partner-sim";

/** A client of the api's partner surface that one sim posts its events as. */
interface SurfaceClient {
  clientId: string;
  clientSecret: string;
}

export interface DevPartnerSurface {
  /** PARTNER_LISTEN and the rest, for the api's settings. */
  env: Record<string, string>;
  /** Points each sim at the surface, once the api listens at `surfaceUrl`. */
  connect(sims: Record<Partner, PartnerSim>, surfaceUrl: string): void;
  cleanup(): void;
}

/**
 * The api's partner surface on loopback for the embedded default, with each sim a client of it
 * (`events.write`), so a sim's rings and entries reach the dev residents' journals. The secrets
 * are made afresh on every start (the sims are told them in memory); the clients file holds only
 * their hashes, in a temporary folder `cleanup` removes.
 */
export async function devPartnerSurface(): Promise<DevPartnerSurface> {
  const clients: Record<Partner, SurfaceClient> = {
    intercom: { clientId: "dev-intercom-events", clientSecret: randomBytes(32).toString("hex") },
    barrier: { clientId: "dev-barrier-events", clientSecret: randomBytes(32).toString("hex") },
  };
  const entries = [];
  for (const [partner, client] of Object.entries(clients))
    entries.push({
      clientId: client.clientId,
      // Cheap parameters: a loopback dev secret, hashed at every start.
      secretHash: await Bun.password.hash(client.clientSecret, {
        algorithm: "argon2id",
        memoryCost: 4096,
        timeCost: 1,
      }),
      partner,
      scopes: ["events.write"],
      addresses: ["127.0.0.1"],
    });
  const folder = mkdtempSync(join(tmpdir(), "propgate-partner-surface-"));
  const file = join(folder, "partner-clients.json");
  writeFileSync(file, JSON.stringify(entries), { mode: 0o600 });
  return {
    env: {
      PARTNER_LISTEN: "127.0.0.1:0",
      PARTNER_ALLOWED_CIDRS: "127.0.0.0/8",
      PARTNER_CLIENTS_FILE: file,
    },
    connect(sims, surfaceUrl) {
      for (const partner of ["intercom", "barrier"] as const)
        sims[partner].events.connect({ surfaceUrl, ...clients[partner] });
    },
    cleanup: () => rmSync(folder, { recursive: true, force: true }),
  };
}
