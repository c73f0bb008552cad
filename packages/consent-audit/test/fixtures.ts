import { afterEach, expect } from "bun:test";
import type { PartnerOperation, PartnerPurpose } from "@propgate/domain";
import { sql } from "drizzle-orm";
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

/**
 * The custom and the generic plan of `statement` (its text, with `$n` parameters), prepared with
 * `args` (SQL literals) after 20,000 `purpose` consent rows and an ANALYZE: enough rows that
 * hashing a scan of them looks cheaper to the planner than a hundred guessed key lookups (the
 * shape the audit writer's gate and the journal's statement had until the large estate).
 */
export async function plansOverManyConsents(
  db: Database,
  purpose: Purpose,
  statement: string,
  args: readonly string[],
): Promise<string[]> {
  await db.execute(sql`
    insert into consent_current (user_id, purpose, state, notice_version)
    select 'usr_plan' || i, ${purpose}, 'granted', 1 from generate_series(1, 20000) as i`);
  await db.execute(sql`analyze consent_current`);
  return db.transaction(async (tx) => {
    await tx.execute(sql.raw(`prepare consent_plan as ${statement}`));
    const explain = async () =>
      JSON.stringify(
        await tx.execute(sql.raw(`explain (format json) execute consent_plan(${args.join(", ")})`)),
      );
    const custom = await explain();
    await tx.execute(sql`set local plan_cache_mode = force_generic_plan`);
    const generic = await explain();
    await tx.execute(sql`deallocate consent_plan`);
    return [custom, generic];
  });
}

/** A plan reads `consent_current` by its key, never by a sequential scan. */
export function expectConsentsReadByKey(plan: string): void {
  expect(plan).toContain("consent_current_pk");
  expect(plan).not.toMatch(/"Node Type":\s*"Seq Scan",[^}]*"Relation Name":\s*"consent_current"/);
}

/** `value` as an SQL string literal. */
export const sqlLiteral = (value: unknown) => `'${String(value).replaceAll("'", "''")}'`;
