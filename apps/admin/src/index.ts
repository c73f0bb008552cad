export { type AdminApp, type AdminAppOptions, bundleAdminPage, createAdminApp } from "./app.ts";
export { type AdminEnv, adminEnv, loadAdminEnv } from "./env.ts";
export { type RunningAdmin, serveAdmin } from "./server.ts";
export { sessionIdHash } from "./session.ts";
