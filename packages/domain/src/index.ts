export { clientNetwork } from "./addresses.ts";
export { DomainError, ERROR_CODES, type ErrorCode, isDomainError } from "./errors.ts";
export {
  DEVICE_ID_PATTERN,
  DeviceId,
  type IdPrefix,
  newId,
  PARTNER_DEVICE_ID_PATTERN,
  PartnerDeviceId,
  SITE_ID_PATTERN,
  SiteId,
  SUBJECT_PATTERN,
  Subject,
  TypedId,
  USER_ID_PATTERN,
  UserId,
} from "./ids.ts";
export * from "./vocabulary.ts";
