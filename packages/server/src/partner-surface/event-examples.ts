import type { PartnerEvent } from "@propgate/domain";

/** A pseudonym as Propgate sends one (43 base64url characters); it stands for nobody. */
const SUBJECT = "Zm9yIGV4YW1wbGVzIG9ubHksIHN0YW5kcyBmb3Igbm8";

/** One example body per event shape, for the OpenAPI document (a test parses each). */
export const EVENT_EXAMPLES = {
  doorOpened: {
    summary: "A door opened (eventId optional for device events)",
    value: {
      type: "door.opened",
      eventId: "ev-100",
      deviceId: "ic-door-7",
      at: "2026-12-07T09:30:00+03:00",
    },
  },
  deviceOffline: {
    summary: "A device stopped answering",
    value: { type: "device.offline", deviceId: "ic-door-7", at: "2026-12-07T09:31:00Z" },
  },
  callIncoming: {
    summary: "Someone rings flat 42 at an entrance panel, with its camera",
    value: {
      type: "call.incoming",
      eventId: "call-7f3a:ring",
      deviceId: "ic-panel-3",
      unitId: "42",
      cameraId: "ic-cam-3",
      at: "2026-12-07T09:32:00+03:00",
    },
  },
  callEnded: {
    summary: "The call was answered and lasted 35 s",
    value: {
      type: "call.ended",
      eventId: "call-7f3a:end",
      deviceId: "ic-panel-3",
      unitId: "42",
      outcome: "answered",
      durationSeconds: 35,
      callEventId: "call-7f3a:ring",
      at: "2026-12-07T09:32:35+03:00",
    },
  },
  accessGranted: {
    summary: "A resident let in by a plate enrolled through Propgate: the subject, never the plate",
    value: {
      type: "access.granted",
      eventId: "gate-9:88121",
      deviceId: "br-gate-1",
      method: "plate",
      subject: SUBJECT,
      at: "2026-12-07T18:05:12+03:00",
    },
  },
  accessDenied: {
    summary: "A wrong door code",
    value: {
      type: "access.denied",
      eventId: "door-7:55310",
      deviceId: "ic-door-7",
      method: "code",
      at: "2026-12-07T22:40:03+03:00",
    },
  },
} satisfies Record<string, { summary: string; value: PartnerEvent }>;
