import { prefixed } from "./catalogue.ts";
import type { Explanations } from "./codes.ts";

/** What each code means, in English (the groups of `codes.ts`). */

const kind: Explanations<"kind"> = {
  "consent.grant": "the resident gave consent",
  "consent.revoke": "consent withdrawn",
  "partner.request": "request sent to a partner",
  "partner.response": "the partner's answer",
  "access.denied": "refused before reaching the partner",
  "admin.devices.upsert": "devices added or changed by an admin",
  "admin.units.upsert": "flats and their residents updated by an admin",
  "erasure.requested": "erasure asked of a partner",
  "erasure.completed": "the partner confirmed the erasure",
  "partner.access_check": "a partner asked whether someone may pass",
  "partner.event": "a partner reported an event at a device",
  "block.placed": "blocked after unusual activity",
  "admin.blocks.lift": "an admin lifted a block",
  "admin.erasures.retry": "an admin sent an erasure again",
  "admin.erasures.records": "an admin exported destruction records",
  "erasure.overdue": "erasure past its deadline, not confirmed",
  "admin.video_sessions.end": "an admin ended a video session",
  "admin.keys.revoke": "an admin revoked a guest key",
  "admin.audit.export": "an admin exported the audit trail",
  "admin.journal.read": "an admin read a resident's journal",
  "journal.erased": "the resident's journal was erased",
  "privacy.report": "the resident took their privacy report",
  "admin.privacy.report": "an admin produced a resident's privacy report",
  "retention.run": "old data pruned by the retention job",
};

const operation: Explanations<"operation"> = {
  "intercom.open": "open a door",
  "barrier.open": "open a gate",
  "video.create_session": "start live video",
  "video.end_session": "end live video",
  "plates.list": "list car plates",
  "plates.add": "add a car plate",
  "plates.remove": "remove a car plate",
  "faces.list": "list enrolled faces",
  "faces.enroll": "enrol a face",
  "faces.remove": "remove a face",
  "keys.create": "create a guest key",
  "keys.list": "list guest keys",
  "keys.delete": "delete a guest key",
  "subjects.erase": "erase a resident's data",
  "subjects.erasure_status": "ask how an erasure is going",
  health: "health check",
  "access_check.key": "may this key pass?",
  "access_check.face": "may this face pass?",
  "access_check.plate": "may this plate pass?",
  "door.opened": "a door opened",
  "device.offline": "a device went offline",
  "device.online": "a device came back online",
  "call.incoming": "someone rang the flat",
  "call.ended": "the call ended",
  "access.granted": "someone was let in",
  "access.denied": "someone was refused",
};

const result: Explanations<"result"> = {
  ok: "done",
  pending: "sent, answer awaited",
  success: "the partner did it",
  accepted: "accepted, finished later",
  unchanged: "nothing to change",
  truncated: "cut at the limit",
  allow: "let through",
  deny: "refused by Propgate",
  denied: "refused",
  error: "failed",
  unknown_device: "unknown device",
  overdue: "past its deadline",
};

const cause: Explanations<"cause"> = {
  UNAUTHORIZED: "not signed in, or the sign-in expired",
  FORBIDDEN: "not allowed",
  FORBIDDEN_DEVICE: "not one of the resident's devices",
  FORBIDDEN_SITE: "not one of the resident's sites",
  CONSENT_REQUIRED: "no consent for this purpose",
  INVALID_INPUT: "the request was not valid",
  RATE_LIMITED: "too many requests, try again later",
  BLOCKED: "blocked for a while after unusual activity",
  NOT_FOUND: "no such thing",
  METHOD_NOT_ALLOWED: "wrong kind of request (GET or POST)",
  PARTNER_UNAVAILABLE: "the partner did not answer",
  PARTNER_REJECTED: "the partner refused",
  PARTNER_PROTOCOL_ERROR: "the partner's answer was broken",
  UNAVAILABLE: "the service is unavailable for now",
  INTERNAL: "an internal error",
};

const purpose: Explanations<"purpose"> = {
  intercom: "opening doors",
  barrier: "opening gates",
  video: "live video",
  faces: "face recognition",
  plates: "car plates",
  guests: "guest keys",
  journal: "journal of events",
};

const partner: Explanations<"partner"> = {
  intercom: "smart intercom",
  barrier: "smart barrier",
};

const method: Explanations<"method"> = {
  in_app_checkbox: "ticked a box in the app",
  in_app_toggle: "switched off in the app",
  admin_action: "by an admin",
};

const channel: Explanations<"channel"> = {
  app: "mobile app",
  web: "web app",
  admin: "admin app",
};

const anomaly: Explanations<"anomaly"> = {
  mass_access_checks: "a partner checking very many people",
  enumeration: "trying many devices or sites",
  unusual_opening: "opening unusually often",
  credential_guessing: "repeated bad sign-in tokens",
  partner_credential_guessing: "a partner's repeated bad credentials",
  consent_probing: "repeated calls without consent",
  outside_vpn: "partner calls from outside the VPN",
  mass_key_creation: "guest keys created in bulk",
};

const subject: Explanations<"subject"> = {
  resident: "resident",
  ip: "network address",
  partner_client: "partner client",
  resident_keys: "resident's guest keys",
};

const device: Explanations<"device"> = {
  door: "door",
  gate: "gate",
  camera: "camera",
};

const entry: Explanations<"entry"> = {
  app: "from the app",
  key: "with a key",
  code: "with a code",
  face: "by face",
  plate: "by car plate",
  call: "by answering a call",
};

const call: Explanations<"call"> = {
  answered: "answered",
  missed: "missed",
};

const erasureReason: Explanations<"erasureReason"> = {
  consent_revoked: "the resident withdrew consent",
  admin_request: "an admin asked for it",
};

export const enCodes = {
  ...prefixed("kind", kind),
  ...prefixed("operation", operation),
  ...prefixed("result", result),
  ...prefixed("cause", cause),
  ...prefixed("purpose", purpose),
  ...prefixed("partner", partner),
  ...prefixed("method", method),
  ...prefixed("channel", channel),
  ...prefixed("anomaly", anomaly),
  ...prefixed("subject", subject),
  ...prefixed("device", device),
  ...prefixed("entry", entry),
  ...prefixed("call", call),
  ...prefixed("erasureReason", erasureReason),
};
