export {
  type AttemptInfo,
  type AttemptOutcome,
  type CallHooks,
  type CallRequest,
  createPartnerClient,
  type PartnerClient,
  type PartnerClientOptions,
  parseRetryAfter,
} from "./client.ts";
export * from "./contract.ts";
export { PartnerProtocolError, PartnerRejectedError, PartnerUnavailableError } from "./errors.ts";
export { barrierOperations, intercomOperations, type OpenDeviceInput } from "./operations.ts";
export { subjectFor } from "./subject.ts";
export {
  createTokenSource,
  refreshSkewMs,
  type TokenSource,
  type TokenSourceOptions,
} from "./token-source.ts";
export { createPartnerFetch, type PartnerFetch, type TransportOptions } from "./transport.ts";
