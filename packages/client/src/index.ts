export type { AppRouter } from "./app-router.ts";
export {
  createPropgateClient,
  type ExtraHeaders,
  type PropgateClient,
  type PropgateClientOptions,
} from "./client.ts";
export {
  type GatewayErrorCode,
  type InputIssue,
  PropgateError,
  type PropgateErrorCode,
} from "./errors.ts";
export { parseRateLimits, type RateLimitItem, type RateLimitState } from "./headers.ts";
export type { GetToken, RetryPolicy } from "./link.ts";
export {
  type AuditKeySet,
  type PrivacyReportDocument,
  PrivacyReportSignatureError,
  verifyPrivacyReport,
} from "./privacy-report.ts";
