import { runInstance } from "@propgate/server";
import { mountVideoPage } from "./video-page.ts";

/**
 * One api instance from the environment with the dev pages (`/dev/video`) mounted: what the
 * browser test runs as a separate process. Development only; production runs apps/api.
 */
await runInstance({
  mount: mountVideoPage,
  check: (env) =>
    env.PROPGATE_ENV === "production"
      ? "dev-api: the dev pages are never served with PROPGATE_ENV=production"
      : null,
});
