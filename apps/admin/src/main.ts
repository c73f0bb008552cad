import { ConfigError } from "@propgate/config";
import { type AdminEnv, loadAdminEnv } from "./env.ts";
import { serveAdmin } from "./server.ts";

/** The admin web app: `bun src/main.ts` with HOST, PORT and API_URL. */
let env: AdminEnv;
try {
  env = loadAdminEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const admin = serveAdmin({ apiUrl: env.API_URL, hostname: env.HOST, port: env.PORT });
console.log(`admin app on ${admin.url} (api ${env.API_URL.origin})`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void admin.stop().then(() => process.exit(0));
  });
}
