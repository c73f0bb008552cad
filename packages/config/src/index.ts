export { ConfigError, parseEnv, type EnvSource } from "./parse.ts";
export {
  booleanFlag,
  host,
  hexOrBase64Key,
  integer,
  logLevel,
  port,
  propgateEnv,
  type PropgateEnv,
  url,
} from "./fields.ts";
export { partnerSettings, type PartnerSettings } from "./partner.ts";
export { isLoopbackHost, checkPartnerUrl } from "./urls.ts";
