import { ConfigError } from "@propgate/config";
import { startBackground } from "./background.ts";
import { createDeps } from "./bootstrap.ts";
import { loadApiEnv } from "./env.ts";
import { serveApi } from "./server.ts";

/** Runs one api instance from the environment, as in production. */
try {
  const env = loadApiEnv();
  const deps = await createDeps(env);
  const background = await startBackground(deps, env);
  const api = serveApi(deps, { hostname: env.HOST, port: env.PORT });
  deps.logger.info(
    { url: api.url, instanceId: deps.instanceId, database: deps.database.kind },
    "api listening",
  );
  const shutdown = async () => {
    deps.logger.info("shutting down");
    await api.stop();
    await background.stop();
    await deps.database.close();
    process.exit(0);
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
