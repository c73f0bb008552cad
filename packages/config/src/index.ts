export {
  databaseFileEnv,
  databasePassword,
  databaseUrl,
  databaseUrlPasswordWarning,
} from "./database.ts";
export { type DatabaseSettings, databaseSettings } from "./database-settings.ts";
export {
  booleanFlag,
  hexOrBase64Key,
  host,
  integer,
  listenAddress,
  logLevel,
  type PropgateEnv,
  port,
  propgateEnv,
  url,
} from "./fields.ts";
export { ConfigError, type EnvSource, parseEnv, readConfigFile } from "./parse.ts";
export { type PartnerSettings, partnerEnv, partnerSettings } from "./partner.ts";
export { type EnvRow, envRows, envTable, undocumentedVariables } from "./reference.ts";
export { type RetentionSettings, retentionEnv } from "./retention.ts";
export { type CertificateFiles, certificateFiles, databaseCa, pemFile } from "./tls.ts";
export { type TracingEnvSettings, tracingEnv, tracingSettings } from "./tracing.ts";
export { checkPartnerUrl, isLoopbackHost } from "./urls.ts";
