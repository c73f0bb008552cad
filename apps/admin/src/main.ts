import { ConfigError } from "@propgate/config";
import { type AdminEnv, loadAdminEnv } from "./env.ts";
import { serveAdmin } from "./server.ts";

/** The admin web app: `bun src/main.ts` with the settings of apps/admin/README.md. */
let env: AdminEnv;
try {
  env = loadAdminEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const admin = serveAdmin(env);
console.log(
  `admin app on ${admin.url} (api ${env.API_URL.origin}, sign-in at ${env.ADMIN_OIDC_ISSUER.origin}; redirect URI ${admin.redirectUri})`,
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void admin.stop().then(() => process.exit(0));
  });
}
