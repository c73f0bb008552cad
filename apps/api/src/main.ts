import { ConfigError } from "@propgate/config";
import { loadApiEnv, startInstance } from "@propgate/server";

/** Runs one api instance from the environment, as in production. */
try {
  const env = loadApiEnv();
  const instance = await startInstance(env);
  const { deps, api, partnerSurface } = instance;
  deps.logger.info(
    { url: api.url, tls: api.tls, instanceId: deps.instanceId, database: deps.database.kind },
    "api listening",
  );
  if (!api.tls) {
    deps.logger.warn(
      "api serves plain http: set TLS_CERT_FILE and TLS_KEY_FILE unless TLS ends in front of it",
    );
  }
  if (partnerSurface) deps.logger.info({ url: partnerSurface.url }, "partner surface listening");
  const shutdown = async () => {
    deps.logger.info("shutting down");
    await instance.stop();
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
