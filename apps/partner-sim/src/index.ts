export type { PartnerScope } from "@propgate/partner-client/contract";
export { createAdminApp } from "./admin/admin-app.ts";
export {
  type CreatePartnerSimAppOptions,
  createPartnerSimApp,
  type PartnerSimApp,
} from "./app.ts";
export type {
  EventDraft,
  EventReport,
  PropgateEvents,
  PropgateTarget,
} from "./events/propgate-events.ts";
export {
  type FaultController,
  FaultPatch,
  FaultSettings,
  type ResponseMode,
} from "./faults.ts";
export type { PartnerSimOptions, SimClient } from "./options.ts";
export type {
  FaultKind,
  RecordedOperation,
  RecordedRequest,
  RecordedTokenClaims,
  Recorder,
  RecordFilter,
} from "./recorder.ts";
export { type PartnerSim, startPartnerSim } from "./start.ts";
export {
  type ErasureInfo,
  MAX_FACE_IMAGE_BYTES,
  MAX_FACES_PER_SUBJECT,
  MAX_PLATES_PER_SUBJECT_SITE,
  type StoredFaceInfo,
  type StoredPlateInfo,
  type SubjectData,
} from "./subject-data.ts";
export type { SimTlsMode, SimTlsOptions } from "./tls.ts";
export type {
  VideoSessionClosedReason,
  VideoSessionInfo,
  VideoSessionState,
  VideoSessions,
} from "./video/sessions.ts";
