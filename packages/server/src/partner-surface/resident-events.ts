import {
  type AuditContext,
  appendJournal,
  claimEventReceipt,
  type Database,
  findEventReceipt,
  findSubject,
  getDeviceByPartnerId,
  getUnitByPartnerId,
  type JournalEntryInput,
  recordAuditEvent,
  residentsOfUnit,
} from "@propgate/consent-audit";
import type { Partner, PartnerEvent } from "@propgate/domain";

/** How partner events reach residents' journals. */
export interface ResidentEventSettings {
  /** A unit's resident is told of its calls while their token named the unit this recently. */
  unitMembershipMaxAgeSeconds: number;
  /** Queue each journal entry for tenant-core's webhook too (when one is configured). */
  webhookOutbox: boolean;
}

/** What became of a partner's event. */
export interface AcceptedPartnerEvent {
  /** Our id of the event: its row in the audit trail (`evt_…`); a retry's is the first post's. */
  auditEventId: string;
  result: "accepted" | "unknown_device";
  /** A retry of an `eventId` already received: nothing was written. */
  replayed: boolean;
  /** Journal entries written (residents concerned who hold `journal` consent). */
  journaled: number;
}

/** Rolls back a retry's audit row: the first post of the event id stands for it. */
class AlreadyReceived extends Error {}

/**
 * Records a partner's event: one `partner.event` audit row (the type, our device or
 * `<partner>/<their id>`, `accepted` or `unknown_device`), the receipt of its `eventId` and an
 * entry in the journal of each resident it concerns — the residents of its unit (calls), the
 * resident behind its subject (entries) — all in one transaction. A retried `eventId` writes
 * nothing and answers with the first post's row. Only ids are stored: the strict contract has no
 * field for a plate, an image, a name or a phone.
 */
export async function acceptPartnerEvent(
  db: Database,
  input: {
    partner: Partner;
    event: PartnerEvent;
    audit: AuditContext;
    settings: ResidentEventSettings;
  },
): Promise<AcceptedPartnerEvent> {
  const { partner, event } = input;
  const device = await getDeviceByPartnerId(db, partner, event.deviceId);
  const result = device ? "accepted" : "unknown_device";
  const record = (tx: Database) =>
    recordAuditEvent(tx, {
      ...input.audit,
      kind: "partner.event",
      operation: event.type,
      partner,
      target: device?.id ?? `${partner}/${event.deviceId}`,
      result,
    });
  const eventId = event.eventId;
  // Device events may come without an id (older partners): nothing to recognise a retry by.
  if (eventId === undefined) {
    const row = await record(db);
    return { auditEventId: row.id, result, replayed: false, journaled: 0 };
  }
  try {
    return await db.transaction(async (tx) => {
      // The audit row first: its chain lock comes before the consent rows appendJournal reads.
      const row = await record(tx);
      if (!(await claimEventReceipt(tx, partner, eventId, row.id))) throw new AlreadyReceived();
      const concerned = await residentsConcerned(tx, partner, event, input.settings);
      if (concerned.residents.length === 0)
        return { auditEventId: row.id, result, replayed: false, journaled: 0 };
      const entry = await journalEntryOf(tx, partner, event, {
        deviceId: device?.id ?? null,
        unitId: concerned.unitId,
        sourceEventId: row.id,
      });
      const written = await appendJournal(tx, entry, concerned.residents, {
        outbox: input.settings.webhookOutbox,
      });
      return { auditEventId: row.id, result, replayed: false, journaled: written.length };
    });
  } catch (error) {
    if (!(error instanceof AlreadyReceived)) throw error;
    const first = await findEventReceipt(db, partner, eventId);
    if (!first) throw new Error("the receipt of a retried event is gone");
    return { auditEventId: first, result, replayed: true, journaled: 0 };
  }
}

/** The residents an event concerns, and our unit for a call. */
async function residentsConcerned(
  tx: Database,
  partner: Partner,
  event: PartnerEvent,
  settings: ResidentEventSettings,
): Promise<{ residents: string[]; unitId: string | null }> {
  switch (event.type) {
    case "call.incoming":
    case "call.ended": {
      const unit = await getUnitByPartnerId(tx, partner, event.unitId);
      if (!unit) return { residents: [], unitId: null };
      const residents = await residentsOfUnit(tx, unit.id, settings.unitMembershipMaxAgeSeconds);
      return { residents, unitId: unit.id };
    }
    case "access.granted":
    case "access.denied": {
      if (event.subject === undefined) return { residents: [], unitId: null };
      const resident = await findSubject(tx, partner, event.subject);
      return { residents: resident ? [resident.userId] : [], unitId: null };
    }
    default:
      return { residents: [], unitId: null };
  }
}

/** The journal's view of an event: our ids for the device, camera and unit; never the subject. */
async function journalEntryOf(
  tx: Database,
  partner: Partner,
  event: PartnerEvent,
  ours: { deviceId: string | null; unitId: string | null; sourceEventId: string },
): Promise<JournalEntryInput> {
  const base = { kind: event.type, ...ours, occurredAt: event.at };
  switch (event.type) {
    case "call.incoming": {
      const camera = event.cameraId
        ? await getDeviceByPartnerId(tx, partner, event.cameraId)
        : null;
      return { ...base, cameraId: camera?.id ?? null };
    }
    case "call.ended":
      return { ...base, outcome: event.outcome, durationSeconds: event.durationSeconds };
    case "access.granted":
    case "access.denied":
      return { ...base, method: event.method };
    default:
      return base;
  }
}
