import { ConfigError } from "@propgate/config";
import { startupFailure } from "@propgate/consent-audit";
import { type AdminEnv, loadAdminEnv } from "./env.ts";
import { type RunningAdmin, serveAdmin } from "./server.ts";

/** The admin web app: `bun src/main.ts` with the settings of apps/admin/README.md. */
let env: AdminEnv;
try {
  env = loadAdminEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
let admin: RunningAdmin;
try {
  admin = await serveAdmin(env);
} catch (error) {
  // One line an operator can act on (the database or the port), no stack, no credentials.
  console.error(`admin app did not start: ${startupFailure(error)}`);
  process.exit(1);
}
console.log(
  `admin app on ${admin.url}, listening on ${admin.listenUrl} (api ${env.API_URL.origin}, sign-in at ${env.ADMIN_OIDC_ISSUER.origin}; redirect URI ${admin.redirectUri})`,
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void admin.stop().then(() => process.exit(0));
  });
}
