export { auditEvents } from "./audit-events";
export { consentCurrent, consentEvents } from "./consent";
export { devices } from "./devices";
export { notices } from "./notices";
export { videoSessions } from "./video-sessions";
