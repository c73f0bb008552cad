export { auditCheckpoints } from "./audit-checkpoints";
export { auditEvents } from "./audit-events";
export { consentCurrent, consentEvents } from "./consent";
export { devices } from "./devices";
export { type ErasedCounts, erasureRequests } from "./erasure-requests";
export { notices } from "./notices";
export { partnerSubjects } from "./partner-subjects";
export { videoSessions } from "./video-sessions";
export { vpnEvents } from "./vpn-events";
