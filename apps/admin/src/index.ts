export { type AdminApp, type AdminAppOptions, createAdminApp } from "./app.ts";
export { type AdminEnv, loadAdminEnv } from "./env.ts";
export { type RunningAdmin, serveAdmin } from "./server.ts";
export { sessionIdHash } from "./session.ts";
