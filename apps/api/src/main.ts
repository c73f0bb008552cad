import { runInstance } from "@propgate/server";

/** One api instance from the environment, as in production (settings: docs/configuration.md). */
await runInstance();
