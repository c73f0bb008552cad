import { ConfigError } from "@propgate/config";
import { loadProbeEnv } from "./env.ts";
import { startHealthProbe } from "./probe.ts";

/** The health probe process: settings from the environment, then probe until SIGTERM/SIGINT. */
let env: ReturnType<typeof loadProbeEnv>;
try {
  env = loadProbeEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const probe = await startHealthProbe(env);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    await probe.stop();
    process.exit(0);
  });
}
