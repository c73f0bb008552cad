export {
  type AttemptInfo,
  type AttemptOutcome,
  type CallHooks,
  type CallRequest,
  createPartnerClient,
  type PartnerClient,
  type PartnerClientOptions,
  parseRetryAfter,
  type RawAnswer,
} from "./client.ts";
export * from "./contract.ts";
export {
  ContractViolation,
  PartnerProtocolError,
  PartnerRejectedError,
  PartnerUnavailableError,
  type ProtocolReason,
} from "./errors.ts";
export { iceServersFromLinks } from "./link-header.ts";
export {
  barrierOperations,
  facesOperations,
  intercomOperations,
  keysOperations,
  type OpenDeviceInput,
  platesOperations,
  subjectOperations,
  type VideoSessionAnswer,
  videoOperations,
} from "./operations.ts";
export { auditErrorCode } from "./retry-policy.ts";
export { checkAnswer, checkOffer, SdpError, type SdpSummary } from "./sdp.ts";
export { subjectFor } from "./subject.ts";
export {
  createPartnerTokenSource,
  createTokenSource,
  discoverAuthorizationServer,
  type PartnerCredentials,
  refreshSkewMs,
  type TokenSource,
  type TokenSourceOptions,
} from "./token-source.ts";
export { createPartnerFetch, type PartnerFetch, type TransportOptions } from "./transport.ts";
