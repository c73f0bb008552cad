export {
  type AdminApp,
  type AdminAppOptions,
  adminStylesheet,
  bundleAdminPage,
  createAdminApp,
} from "./app.ts";
export { type AdminEnv, adminEnv, loadAdminEnv } from "./env.ts";
export { grafanaDashboardJson } from "./overview/grafana.ts";
export { type RunningAdmin, serveAdmin } from "./server.ts";
export { sessionIdHash } from "./session.ts";
