export { adminSessions } from "./admin-sessions";
export { auditCheckpoints } from "./audit-checkpoints";
export { auditEvents } from "./audit-events";
export { auditRedactions } from "./audit-redactions";
export { consentCurrent, consentEvents } from "./consent";
export { destructionRecords } from "./destruction-records";
export { devices } from "./devices";
export { type ErasedCounts, erasureRequests } from "./erasure-requests";
export { guestKeys } from "./guest-keys";
export {
  journalEntries,
  partnerEventReceipts,
  unitResidents,
  units,
  WEBHOOK_STATUSES,
  type WebhookStatus,
  webhookOutbox,
} from "./journal";
export { notices } from "./notices";
export { partnerHealth, partnerHealthEvents } from "./partner-health";
export { partnerSubjects } from "./partner-subjects";
export { videoSessions } from "./video-sessions";
export { vpnEvents } from "./vpn-events";
export { anomalies, blocks } from "./watch";
