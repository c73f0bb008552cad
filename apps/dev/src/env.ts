import { resolve } from "node:path";
import { type EnvSource, integer, logLevel, parseEnv, port } from "@propgate/config";
import { z } from "zod";

const REPO_DATA_DIR = resolve(import.meta.dir, "../../../.data");

/** Settings of the embedded dev stack (`bun run start`); all optional. */
export function loadDevStackEnv(source: EnvSource = process.env) {
  const env = parseEnv(
    z.object({
      DATA_DIR: z.string().default(REPO_DATA_DIR),
      PORT: port.default(8080),
      /** The admin app's port (0 picks a free one). */
      ADMIN_PORT: port.default(8790),
      LOG_LEVEL: logLevel.default("info"),
      /** How often the embedded health probe checks both sims (partner health in the admin app). */
      PROBE_INTERVAL_MS: integer(1000, 3_600_000).default(15_000),
    }),
    source,
  );
  return { ...env, DATA_DIR: resolve(env.DATA_DIR) };
}
