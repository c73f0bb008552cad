import { desc, sql } from "drizzle-orm";
import type { Database } from "./database";
import { partnerHealth, partnerHealthEvents } from "./schema/partner-health";

export type PartnerCheckState = "ok" | "failing" | "firing";

export interface PartnerCheckStatus {
  partner: string;
  check: string;
  state: PartnerCheckState;
  consecutiveFailures: number;
  lastError: string | null;
  since: Date;
  notified: "firing" | "resolved" | null;
}

export interface PartnerCheckTransition {
  partner: string;
  check: string;
  from: PartnerCheckState;
  to: PartnerCheckState;
  at: Date;
  error: string | null;
}

/** The probe's statuses as last saved. */
export async function loadPartnerHealth(db: Database): Promise<PartnerCheckStatus[]> {
  const rows = await db.select().from(partnerHealth);
  return rows.map((row) => ({
    partner: row.partner,
    check: row.check,
    state: row.state as PartnerCheckState,
    consecutiveFailures: row.consecutiveFailures,
    lastError: row.lastError,
    since: row.since,
    notified: row.notified as PartnerCheckStatus["notified"],
  }));
}

/** Saves the statuses now and appends the transitions since the last save, in one transaction. */
export async function savePartnerHealth(
  db: Database,
  statuses: readonly PartnerCheckStatus[],
  transitions: readonly PartnerCheckTransition[],
): Promise<void> {
  if (statuses.length === 0 && transitions.length === 0) return;
  const now = new Date();
  await db.transaction(async (tx) => {
    if (statuses.length > 0) {
      await tx
        .insert(partnerHealth)
        .values(
          statuses.map((status) => ({
            ...status,
            lastError: status.lastError?.slice(0, 500) ?? null,
            updatedAt: now,
          })),
        )
        .onConflictDoUpdate({
          target: [partnerHealth.partner, partnerHealth.check],
          set: {
            state: sql`excluded.state`,
            consecutiveFailures: sql`excluded.consecutive_failures`,
            lastError: sql`excluded.last_error`,
            since: sql`excluded.since`,
            notified: sql`excluded.notified`,
            updatedAt: sql`excluded.updated_at`,
          },
        });
    }
    if (transitions.length > 0) {
      await tx.insert(partnerHealthEvents).values(
        transitions.map((t) => ({
          partner: t.partner,
          check: t.check,
          fromState: t.from,
          toState: t.to,
          at: t.at,
          error: t.error?.slice(0, 500) ?? null,
        })),
      );
    }
  });
}

/** For admins: every check's current state, and the most recent transitions (newest first). */
export async function partnerHealthReport(db: Database, options: { transitions?: number } = {}) {
  const current = await loadPartnerHealth(db);
  const recent = await db
    .select()
    .from(partnerHealthEvents)
    .orderBy(desc(partnerHealthEvents.seq))
    .limit(Math.min(500, Math.max(1, options.transitions ?? 50)));
  return {
    checks: current.map((status) => ({
      partner: status.partner,
      check: status.check,
      state: status.state,
      consecutiveFailures: status.consecutiveFailures,
      lastError: status.lastError,
      since: status.since.toISOString(),
    })),
    transitions: recent.map((row) => ({
      partner: row.partner,
      check: row.check,
      from: row.fromState,
      to: row.toState,
      at: row.at.toISOString(),
      error: row.error,
    })),
  };
}
