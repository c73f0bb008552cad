import { createHash } from "node:crypto";
import type { auditEvents } from "./schema/audit-events";

/** `prev_hash` of the first row. */
export const GENESIS_HASH = "0".repeat(64);

/** Transaction-level advisory lock key that serializes appends to the chain. */
export const AUDIT_CHAIN_LOCK_KEY = 7_402_113_002;

type AuditRow = typeof auditEvents.$inferSelect;

/**
 * The row's content as canonical JSON: snake_case column names in sorted order, absent values
 * as null, `at` as ISO-8601 UTC with milliseconds. Anyone can recompute it from the table alone.
 */
export function canonicalAuditContent(row: Omit<AuditRow, "prevHash" | "hash">): string {
  const content = {
    actor: row.actor,
    at: row.at.toISOString(),
    attempt: row.attempt,
    call_id: row.callId,
    client_ip: row.clientIp,
    error_code: row.errorCode,
    http_status: row.httpStatus,
    id: row.id,
    instance_id: row.instanceId,
    kind: row.kind,
    latency_ms: row.latencyMs,
    operation: row.operation,
    partner: row.partner,
    purpose: row.purpose,
    request_id: row.requestId,
    result: row.result,
    seq: row.seq,
    source_app: row.sourceApp,
    target: row.target,
    user_id: row.userId,
  };
  return JSON.stringify(content);
}

/** hash = sha256 hex of (prev_hash + canonical JSON of the row's content). */
export function auditRowHash(prevHash: string, row: Omit<AuditRow, "prevHash" | "hash">): string {
  return createHash("sha256")
    .update(prevHash + canonicalAuditContent(row), "utf8")
    .digest("hex");
}
