export { clientNetwork } from "./addresses.ts";
export { DomainError, ERROR_CODES, type ErrorCode, isDomainError } from "./errors.ts";
export {
  DEVICE_ID_PATTERN,
  DeviceId,
  type IdPrefix,
  newId,
  newTimeOrderedId,
  PARTNER_DEVICE_ID_PATTERN,
  PARTNER_EVENT_ID_PATTERN,
  PARTNER_UNIT_ID_PATTERN,
  PartnerDeviceId,
  PartnerEventId,
  PartnerUnitId,
  SITE_ID_PATTERN,
  SiteId,
  SUBJECT_PATTERN,
  Subject,
  TypedId,
  UNIT_ID_PATTERN,
  UnitId,
  USER_ID_PATTERN,
  UserId,
} from "./ids.ts";
export { distinctSorted } from "./lists.ts";
export * from "./partner-events.ts";
export * from "./vocabulary.ts";
