import {
  type AuditContext,
  collectResidentData,
  type DatabaseHandle,
  RESIDENT_AUDIT_ROWS,
  type ResidentData,
  recordAuditEvent,
  withStatementTimeout,
} from "@propgate/consent-audit";
import { CONTROLLER, type ReceiptSigner, signJws } from "../consent/receipts.ts";
import { RETENTION_FACTS } from "./retention-facts.ts";

export const REPORT_VERSION = "propgate-privacy-report/1";
/** The JWS `typ` of a report's signature. */
export const REPORT_TYPE = "privacy-report+jws";

/**
 * A privacy report as served: `document` is the JSON text, byte for byte what was signed, and
 * `jws` its detached signature (RFC 7515 Appendix F: `header..signature`, the payload being the
 * base64url of `document`'s UTF-8 bytes); null when no signing key is configured.
 */
export interface SignedPrivacyReport {
  document: string;
  jws: string | null;
}

/** What the document says besides the data: who asked, when, and the report's id. */
interface ReportHeader {
  /** The report's audit row (`privacy.report` / `admin.privacy.report`): its id and time. */
  reportId: string;
  generatedAt: string;
  subject: string;
  /** `resident` (their own request) or `operator` (a written request, produced by an admin). */
  requestedThrough: "resident" | "operator";
}

export type PrivacyReportDocument = ReturnType<typeof reportDocument>;

function reportDocument(header: ReportHeader, data: ResidentData) {
  return {
    version: REPORT_VERSION,
    ...header,
    controller: CONTROLLER,
    /** How much of each list is shown whole; the rest is counted. */
    limits: { auditRowsShown: RESIDENT_AUDIT_ROWS },
    retention: RETENTION_FACTS,
    ...data,
  };
}

/**
 * The detached JWS of `document`: signed over `header.base64url(document)` (RFC 7515, 5.1) and
 * served without the payload, which the verifier re-attaches from the exact bytes it got.
 */
export function signDetached(document: string, signer: ReceiptSigner): string {
  return signJws(signer, REPORT_TYPE, document, { detached: true });
}

export interface ReportRequest {
  /** Whose report. */
  userId: string;
  /** Who asked: the resident's own context, or the operator's with their reason. */
  audit: AuditContext;
  kind: "privacy.report" | "admin.privacy.report";
}

/**
 * Reads everything held about the resident in one transaction with bounded statements
 * (invariant 8), writes the report's audit row — no content in it, its id is the report's id —
 * and returns the document with its signature. Nothing leaves unless the row was written.
 */
export async function producePrivacyReport(
  services: {
    database: DatabaseHandle;
    signer: ReceiptSigner | null;
    statementTimeoutMs: number;
  },
  request: ReportRequest,
): Promise<SignedPrivacyReport> {
  const data = await withStatementTimeout(
    services.database,
    services.statementTimeoutMs,
    (database) => collectResidentData(database.db, request.userId),
  );
  const row = await recordAuditEvent(services.database.db, {
    ...request.audit,
    kind: request.kind,
    result: "ok",
    userId: request.userId,
  });
  const document = JSON.stringify(
    reportDocument(
      {
        reportId: row.id,
        generatedAt: row.at,
        subject: request.userId,
        requestedThrough: request.kind === "privacy.report" ? "resident" : "operator",
      },
      data,
    ),
    null,
    2,
  );
  return { document, jws: services.signer ? signDetached(document, services.signer) : null };
}
