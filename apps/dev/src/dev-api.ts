import { ConfigError } from "@propgate/config";
import { loadApiEnv, startInstance } from "@propgate/server";
import { mountVideoPage } from "./video-page.ts";

/**
 * One api instance from the environment with the dev pages (`/dev/video`) mounted: what the
 * browser test runs as a separate process. Development only; production runs apps/api.
 */
try {
  const env = loadApiEnv();
  if (env.PROPGATE_ENV === "production") {
    console.error("dev-api: the dev pages are never served with PROPGATE_ENV=production");
    process.exit(1);
  }
  const instance = await startInstance(env, { mount: mountVideoPage });
  instance.deps.logger.info({ url: instance.api.url }, "api listening");
  const shutdown = async () => {
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
