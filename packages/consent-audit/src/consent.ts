import { newId } from "@propgate/domain";
import { and, asc, desc, eq, max } from "drizzle-orm";
import { z } from "zod";
import { type AuditContext, contextFields, lockAuditChain, recordAuditEvent } from "./audit";
import { notifyConsentChange } from "./consent-bus";
import type { Database } from "./database";
import { enqueueErasure } from "./erasure";
import { StaleNoticeError } from "./errors";
import { requestKeyEnds } from "./guest-keys";
import { eraseJournal } from "./journal";
import {
  CONSENT_CHANNELS,
  type ConsentChannel,
  ERASURE_CATEGORIES,
  ERASURE_PARTNER,
  type ErasureCategory,
  PURPOSES,
  type Purpose,
} from "./purposes";
import { consentCurrent, consentEvents } from "./schema/consent";
import { notices } from "./schema/notices";
import { parseInput } from "./validation";
import { requestEndOfResidentSessions } from "./video-sessions";

export interface ConsentState {
  purpose: Purpose;
  state: "granted" | "revoked" | "none";
  currentNoticeVersion: number;
  /** The notice version the resident accepted, while granted. */
  grantedNoticeVersion: number | null;
  /** ISO-8601 of the last grant or revoke; null when never decided. */
  updatedAt: string | null;
}

export interface Notice {
  purpose: Purpose;
  version: number;
  text: string;
  textSha256: string;
  publishedAt: string;
}

const UserId = z.string().min(1).max(128);
const Method = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/);

const GrantConsentInput = z.strictObject({
  userId: UserId,
  purpose: z.enum(PURPOSES),
  noticeVersion: z.number().int().min(1),
  channel: z.enum(CONSENT_CHANNELS),
  method: Method,
});
export type GrantConsentInput = z.input<typeof GrantConsentInput>;

const RevokeConsentInput = z.strictObject({
  userId: UserId,
  purpose: z.enum(PURPOSES),
  channel: z.enum(CONSENT_CHANNELS),
  method: Method,
  actor: z.string().min(1).max(128),
  reason: z.string().min(1).max(500).nullish(),
});
export type RevokeConsentInput = z.input<typeof RevokeConsentInput>;

/** The latest published notice of each purpose. */
export async function listCurrentNotices(db: Database): Promise<Notice[]> {
  const latest = db
    .select({ purpose: notices.purpose, version: max(notices.version).as("latest_version") })
    .from(notices)
    .groupBy(notices.purpose)
    .as("latest");
  const rows = await db
    .select({
      purpose: notices.purpose,
      version: notices.version,
      text: notices.text,
      textSha256: notices.textSha256,
      publishedAt: notices.publishedAt,
    })
    .from(notices)
    .innerJoin(
      latest,
      and(eq(latest.purpose, notices.purpose), eq(latest.version, notices.version)),
    )
    .orderBy(asc(notices.purpose));
  return rows.map((row) => ({ ...row, publishedAt: row.publishedAt.toISOString() }));
}

async function currentNoticeVersions(db: Database): Promise<Map<Purpose, number>> {
  const rows = await db
    .select({ purpose: notices.purpose, version: max(notices.version) })
    .from(notices)
    .groupBy(notices.purpose);
  return new Map(rows.map((row) => [row.purpose, row.version ?? 0]));
}

function requireVersion(versions: Map<Purpose, number>, purpose: Purpose): number {
  const version = versions.get(purpose);
  // The seed migration publishes v1 of every purpose; a gap means the schema is not migrated.
  if (version === undefined || version < 1) throw new Error(`no notice published for ${purpose}`);
  return version;
}

/** The resident's consent for every purpose, in `PURPOSES` order. */
export async function listConsents(db: Database, userId: string): Promise<ConsentState[]> {
  const id = parseInput(UserId, userId, "user id");
  const [versions, rows] = await Promise.all([
    currentNoticeVersions(db),
    db.select().from(consentCurrent).where(eq(consentCurrent.userId, id)),
  ]);
  const byPurpose = new Map(rows.map((row) => [row.purpose, row]));
  return PURPOSES.map((purpose) => {
    const row = byPurpose.get(purpose);
    return {
      purpose,
      state: row?.state ?? "none",
      currentNoticeVersion: requireVersion(versions, purpose),
      grantedNoticeVersion: row?.state === "granted" ? row.noticeVersion : null,
      updatedAt: row ? row.updatedAt.toISOString() : null,
    };
  });
}

/** Whether the resident's consent for `purpose` is granted now: one row read, for hot paths. */
export async function isConsentGranted(
  db: Database,
  userId: string,
  purpose: Purpose,
): Promise<boolean> {
  const [row] = await db
    .select({ state: consentCurrent.state })
    .from(consentCurrent)
    .where(and(eq(consentCurrent.userId, userId), eq(consentCurrent.purpose, purpose)))
    .limit(1);
  return row?.state === "granted";
}

/**
 * Records a grant of the CURRENT notice version (else `StaleNoticeError`, nothing written):
 * history row, current state and audit row in one transaction, announced on the consent bus at
 * commit. Granting what is already granted at that version changes nothing and writes nothing.
 */
export async function grantConsent(
  db: Database,
  input: GrantConsentInput,
  audit: AuditContext,
): Promise<ConsentState> {
  const grant = parseInput(GrantConsentInput, input, "consent grant");
  return db.transaction(async (tx) => {
    const current = requireVersion(await currentNoticeVersions(tx), grant.purpose);
    if (grant.noticeVersion !== current) {
      throw new StaleNoticeError(grant.purpose, grant.noticeVersion, current);
    }
    await lockAuditChain(tx);
    const [existing] = await tx
      .select()
      .from(consentCurrent)
      .where(
        and(eq(consentCurrent.userId, grant.userId), eq(consentCurrent.purpose, grant.purpose)),
      )
      .for("update");
    if (existing?.state === "granted" && existing.noticeVersion === current) {
      return stateOf(existing, current);
    }
    const at = new Date();
    const actor = audit.actor ?? grant.userId;
    await tx.insert(consentEvents).values({
      id: newId("cns"),
      userId: grant.userId,
      purpose: grant.purpose,
      action: "grant",
      noticeVersion: current,
      channel: grant.channel,
      method: grant.method,
      actor,
      at,
    });
    const row = { state: "granted" as const, noticeVersion: current, updatedAt: at };
    await tx
      .insert(consentCurrent)
      .values({ userId: grant.userId, purpose: grant.purpose, ...row })
      .onConflictDoUpdate({ target: [consentCurrent.userId, consentCurrent.purpose], set: row });
    await recordAuditEvent(tx, {
      ...contextFields(audit),
      actor,
      kind: "consent.grant",
      result: "ok",
      userId: grant.userId,
      purpose: grant.purpose,
    });
    await notifyConsentChange(tx, {
      userId: grant.userId,
      purpose: grant.purpose,
      state: "granted",
    });
    return stateOf({ purpose: grant.purpose, ...row }, current);
  });
}

function isErasureCategory(purpose: Purpose): purpose is ErasureCategory {
  return (ERASURE_CATEGORIES as readonly string[]).includes(purpose);
}

/**
 * Records a revoke: history row, current state and audit row in one transaction. Once this
 * returns, the audit writer denies the purpose on every instance: its attempts read the consent
 * row FOR SHARE, so one in flight commits before the revoke and later ones see "revoked".
 * Revoking faces or plates also queues the erasure at the partner (`erasure_requests`), revoking
 * `journal` erases the resident's journal in the same transaction, revoking `guests` queues the
 * resident's guest keys to end at the partner, and every change is announced on the consent bus at commit. Revoking what is not granted is a
 * no-op that returns the state.
 */
export async function revokeConsent(
  db: Database,
  input: RevokeConsentInput,
  audit: AuditContext,
): Promise<ConsentState> {
  const revoke = parseInput(RevokeConsentInput, input, "consent revoke");
  return db.transaction(async (tx) => {
    const current = requireVersion(await currentNoticeVersions(tx), revoke.purpose);
    await lockAuditChain(tx);
    return revokeIn(tx, revoke, current, audit);
  });
}

const RevokeConsentsInput = RevokeConsentInput.omit({ purpose: true }).extend({
  purposes: z.array(z.enum(PURPOSES)).min(1).max(PURPOSES.length),
});
export type RevokeConsentsInput = z.input<typeof RevokeConsentsInput>;

/**
 * `revokeConsent` for several purposes (an admin's "revoke all") in ONE transaction: all of
 * them or none. Returns the resident's consents for every purpose afterwards.
 */
export async function revokeConsents(
  db: Database,
  input: RevokeConsentsInput,
  audit: AuditContext,
): Promise<ConsentState[]> {
  const { purposes, ...revoke } = parseInput(RevokeConsentsInput, input, "consent revoke");
  await db.transaction(async (tx) => {
    const versions = await currentNoticeVersions(tx);
    await lockAuditChain(tx);
    // Consent rows locked in one order (PURPOSES'), as every other writer does per purpose.
    for (const purpose of PURPOSES.filter((p) => purposes.includes(p))) {
      await revokeIn(tx, { ...revoke, purpose }, requireVersion(versions, purpose), audit);
    }
  });
  return listConsents(db, revoke.userId);
}

/** One purpose's revoke inside `tx`, which holds the audit chain lock already. */
async function revokeIn(
  tx: Database,
  revoke: z.output<typeof RevokeConsentInput>,
  current: number,
  audit: AuditContext,
): Promise<ConsentState> {
  const [existing] = await tx
    .select()
    .from(consentCurrent)
    .where(
      and(eq(consentCurrent.userId, revoke.userId), eq(consentCurrent.purpose, revoke.purpose)),
    )
    .for("update");
  if (existing?.state !== "granted") {
    return existing ? stateOf(existing, current) : noneState(revoke.purpose, current);
  }
  const at = new Date();
  await tx.insert(consentEvents).values({
    id: newId("cns"),
    userId: revoke.userId,
    purpose: revoke.purpose,
    action: "revoke",
    noticeVersion: null,
    channel: revoke.channel,
    method: revoke.method,
    actor: revoke.actor,
    reason: revoke.reason ?? null,
    at,
  });
  const row = { state: "revoked" as const, noticeVersion: null, updatedAt: at };
  await tx
    .update(consentCurrent)
    .set(row)
    .where(
      and(eq(consentCurrent.userId, revoke.userId), eq(consentCurrent.purpose, revoke.purpose)),
    );
  await recordAuditEvent(tx, {
    ...contextFields(audit),
    actor: audit.actor ?? revoke.actor,
    reason: audit.reason ?? revoke.reason ?? null,
    kind: "consent.revoke",
    result: "ok",
    userId: revoke.userId,
    purpose: revoke.purpose,
  });
  // Live video stops with the consent: the sessions are queued to be ended at the partner.
  if (revoke.purpose === "video") await requestEndOfResidentSessions(tx, revoke.userId);
  // Guest keys end with the consent: queued here, so `keys.list` is empty at commit.
  if (revoke.purpose === "guests") {
    await requestKeyEnds(tx, { userId: revoke.userId, reason: "consent_revoked" });
  }
  // The journal is ours alone: erased here, at once; the bus below tells every instance.
  if (revoke.purpose === "journal") await eraseJournal(tx, revoke.userId, audit);
  if (isErasureCategory(revoke.purpose)) {
    await enqueueErasure(
      tx,
      {
        userId: revoke.userId,
        partner: ERASURE_PARTNER[revoke.purpose],
        categories: [revoke.purpose],
        reason: "consent_revoked",
        requestedBy: revoke.actor,
      },
      audit,
    );
  }
  await notifyConsentChange(tx, {
    userId: revoke.userId,
    purpose: revoke.purpose,
    state: "revoked",
  });
  return stateOf({ purpose: revoke.purpose, ...row }, current);
}

export interface ConsentHistoryEntry {
  id: string;
  purpose: Purpose;
  action: "grant" | "revoke";
  /** The notice version a grant accepted; null on a revoke. */
  noticeVersion: number | null;
  channel: ConsentChannel;
  method: string;
  /** The resident's id, or `admin:<id>` for an admin's revoke. */
  actor: string;
  reason: string | null;
  /** ISO-8601 UTC. */
  at: string;
}

/** The resident's grants and revokes (the evidence of consent), newest first. */
export async function listConsentHistory(
  db: Database,
  userId: string,
  options: { limit?: number } = {},
): Promise<ConsentHistoryEntry[]> {
  const id = parseInput(UserId, userId, "user id");
  const limit = parseInput(z.number().int().min(1).max(1000), options.limit ?? 200, "limit");
  const rows = await db
    .select()
    .from(consentEvents)
    .where(eq(consentEvents.userId, id))
    .orderBy(desc(consentEvents.at), desc(consentEvents.id))
    .limit(limit);
  return rows.map((row) => ({
    id: row.id,
    purpose: row.purpose,
    action: row.action,
    noticeVersion: row.noticeVersion,
    channel: row.channel,
    method: row.method,
    actor: row.actor,
    reason: row.reason,
    at: row.at.toISOString(),
  }));
}

function stateOf(
  row: {
    purpose: Purpose;
    state: "granted" | "revoked";
    noticeVersion: number | null;
    updatedAt: Date;
  },
  currentNoticeVersion: number,
): ConsentState {
  return {
    purpose: row.purpose,
    state: row.state,
    currentNoticeVersion,
    grantedNoticeVersion: row.state === "granted" ? row.noticeVersion : null,
    updatedAt: row.updatedAt.toISOString(),
  };
}

function noneState(purpose: Purpose, currentNoticeVersion: number): ConsentState {
  return {
    purpose,
    state: "none",
    currentNoticeVersion,
    grantedNoticeVersion: null,
    updatedAt: null,
  };
}
