import type { AuditContext, Database, Purpose } from "../src/index";
import { grantConsent } from "../src/index";

export const APP_AUDIT: AuditContext = {
  sourceApp: "api",
  instanceId: "api-test-1",
  clientIp: "203.0.113.7",
  requestId: "req_test",
};

export const ADMIN_AUDIT: AuditContext = { ...APP_AUDIT, sourceApp: "admin", actor: "adm_1" };

/** A user id no other test uses. */
export function newUserId(): string {
  return `usr_${crypto.randomUUID()}`;
}

export function grant(db: Database, userId: string, purpose: Purpose) {
  return grantConsent(
    db,
    { userId, purpose, noticeVersion: 1, channel: "app", method: "in_app_checkbox" },
    APP_AUDIT,
  );
}

export function attemptInput(userId: string, purpose: Purpose = "intercom", attempt = 0) {
  return {
    userId,
    purpose,
    operation: `${purpose}.open`,
    partner: purpose === "barrier" || purpose === "plates" ? "barrier" : "intercom",
    target: "dev_door_1",
    attempt,
    callId: `call_${crypto.randomUUID()}`,
  } as const;
}

/** First row of `db.execute()`: postgres.js returns an array, PGlite `{ rows }`. */
export function firstRow(result: unknown): Record<string, unknown> | undefined {
  const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
  return rows[0] as Record<string, unknown> | undefined;
}

/** Polls `check` until it holds; fails after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}
