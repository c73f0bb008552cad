import { afterEach } from "bun:test";
import type { PartnerOperation, PartnerPurpose } from "@propgate/domain";
import type { AuditContext, Database, Purpose } from "../src/index";
import { appendAuditEvents, grantConsent } from "../src/index";
import { createTestDatabase, rowsOf, type TestDatabase } from "../src/testing";

export { rowsOf };

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

/** One `admin.blocks.lift` row per reason, in order: an admin's words, as the CSV export gets them. */
export function appendLifts(db: Database, reasons: readonly string[]) {
  return appendAuditEvents(
    db,
    reasons.map((reason) => ({
      ...APP_AUDIT,
      actor: "adm_1",
      reason,
      kind: "admin.blocks.lift" as const,
      result: "ok",
      target: "blk_1",
    })),
  );
}

/** A real partner operation for each purpose (the audit accepts only the vocabulary's). */
const OPERATION_OF = {
  intercom: "intercom.open",
  barrier: "barrier.open",
  video: "video.create_session",
  faces: "faces.enroll",
  plates: "plates.add",
  guests: "keys.create",
} as const satisfies Record<PartnerPurpose, PartnerOperation>;

export function attemptInput(userId: string, purpose: PartnerPurpose = "intercom", attempt = 0) {
  return {
    userId,
    purpose,
    operation: OPERATION_OF[purpose],
    partner: purpose === "barrier" || purpose === "plates" ? "barrier" : "intercom",
    target: "dev_door_1",
    attempt,
    callId: `call_${crypto.randomUUID()}`,
  } as const;
}

/** First row of `db.execute()`. */
export function firstRow(result: unknown): Record<string, unknown> | undefined {
  return rowsOf(result)[0];
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

/** Collects values pushed by callbacks; `take` awaits the first one that matches. */
export class Inbox<T> {
  readonly items: T[] = [];
  private readonly waiters = new Set<{ match: (item: T) => boolean; resolve: (item: T) => void }>();

  push = (item: T): void => {
    this.items.push(item);
    for (const waiter of this.waiters) {
      if (waiter.match(item)) {
        this.waiters.delete(waiter);
        waiter.resolve(item);
      }
    }
  };

  take(what: string, match: (item: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
    const seen = this.items.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (item: T) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      this.waiters.add(waiter);
    });
  }
}

export function revokeInput(userId: string, purpose: Purpose, actor = userId) {
  return { userId, purpose, channel: "app", method: "in_app_toggle", actor } as const;
}

/** Databases a test makes with the returned function, closed (dropped) after each test. */
export function databasesPerTest() {
  const opened: TestDatabase[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((handle) => handle.close()));
  });
  return async (options?: { migrate?: boolean }): Promise<TestDatabase> => {
    const handle = await createTestDatabase(options);
    opened.push(handle);
    return handle;
  };
}
