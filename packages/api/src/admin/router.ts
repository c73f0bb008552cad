import {
  AuditCursor,
  AuditFilter,
  DeviceRecord,
  ERASURE_STATUSES,
  exportAuditCsv,
  exportDestructionRecords,
  findResidents,
  liftBlock,
  listAllDevices,
  listAnomalies,
  listBlocks,
  listConsentHistory,
  listConsents,
  listErasures,
  listJournal,
  listKeysForAdmin,
  listVideoSessions,
  listVpnEvents,
  listWebhookOutbox,
  pageAuditEvents,
  partnerHealthReport,
  recordAuditEvent,
  requestAdminKeyEnd,
  requestAdminVideoSessionEnd,
  residentSeen,
  retryErasure,
  revokeConsents,
  upsertDevices,
  type VideoSession,
  verifyAuditChain,
  WEBHOOK_STATUSES,
  webhookOutboxStats,
  withClientNetwork,
} from "@propgate/consent-audit";
import {
  ANOMALY_KINDS,
  BLOCK_SUBJECT_TYPES,
  clientNetwork,
  DeviceId,
  PURPOSES,
  TypedId,
  UserId,
} from "@propgate/domain";
import { z } from "zod";
import { KeyNotFoundError, SessionNotFoundError } from "../errors.ts";
import { producePrivacyReport } from "../privacy/report.ts";
import { SignedPrivacyReport } from "../privacy/router.ts";
import { enforceRateLimit } from "../rate-limits/enforce.ts";
import {
  AdminReason,
  adminActProcedure,
  adminAuditExportProcedure,
  adminAuditVerifyProcedure,
  adminReadProcedure,
  router,
} from "../trpc.ts";

/*
 * The admin api (invariant 5): reads need the viewer or operator role (`adminReadProcedure`),
 * actions the operator role and a reason (`adminActProcedure`), which every row the action
 * writes carries with the admin's id.
 */

const Instant = z.iso.datetime({ offset: true });
const AuditQueryFilter = AuditFilter.extend({ from: Instant.optional(), to: Instant.optional() });
const instant = (value: string | undefined) => (value ? new Date(value) : undefined);
const auditFilter = ({ from, to, ...rest }: z.output<typeof AuditQueryFilter>) => ({
  ...rest,
  from: instant(from),
  to: instant(to),
});

const WatchQuery = z.strictObject({
  kind: z.enum(ANOMALY_KINDS).optional(),
  subjectType: z.enum(BLOCK_SUBJECT_TYPES).optional(),
  subjectId: z.string().min(1).max(128).optional(),
  /** ISO-8601: only what was seen (anomalies) or placed (blocks) after it. */
  since: Instant.optional(),
  limit: z.number().int().min(1).max(500).default(100),
});

/** What admins see of a session: not its partner `Location`. */
const shown = ({ sessionPath: _path, ...session }: VideoSession) => session;

/**
 * Client addresses in the audit trail are personal data an operator may need (to lift or trace
 * a block) and a viewer does not: a viewer's pages and exports show the network only.
 */
const clientIpShown = (role: "viewer" | "operator") => (role === "operator" ? "whole" : "network");

/** Anomalies and blocks on an address: a viewer sees the address's network, as in the trail. */
function shownToRole<T extends { subjectType: string; subjectId: string }>(
  role: "viewer" | "operator",
  rows: T[],
): T[] {
  if (clientIpShown(role) === "whole") return rows;
  return rows.map((row) =>
    row.subjectType === "ip" ? { ...row, subjectId: clientNetwork(row.subjectId) } : row,
  );
}

export const adminRouter = router({
  /** The caller's id and admin role (the web app hides actions from viewers). */
  me: adminReadProcedure.query(({ ctx }) => ({
    userId: ctx.principal.userId,
    role: ctx.adminRole,
  })),
  residents: router({
    /**
     * One resident by opaque id: consent per purpose with its history (notice version, time,
     * channel, method, actor, reason), erasures (newest first) and video sessions.
     */
    get: adminReadProcedure
      .input(z.strictObject({ userId: UserId }))
      .query(async ({ ctx, input }) => {
        const { db } = ctx.deps.database;
        const [consents, history, erasures, videoSessions, seen] = await Promise.all([
          listConsents(db, input.userId),
          listConsentHistory(db, input.userId, { limit: 500 }),
          listErasures(db, { userId: input.userId, limit: 100 }),
          listVideoSessions(db, { userId: input.userId, limit: 100 }),
          residentSeen(db, input.userId),
        ]);
        return {
          userId: input.userId,
          /** False: no consent, audit row or flat at all: an id Propgate never saw. */
          seen,
          consents: consents.map((consent) => ({
            ...consent,
            history: history.filter((entry) => entry.purpose === consent.purpose),
          })),
          erasures,
          videoSessions: videoSessions.map(shown),
        };
      }),
    /**
     * Residents by the beginning of their opaque id (those with a consent or a flat), or with no
     * prefix those active lately (the newest audit rows), with when each was last seen.
     */
    find: adminReadProcedure
      .input(
        z.strictObject({
          prefix: UserId.optional(),
          limit: z.number().int().min(1).max(50).default(20),
        }),
      )
      .query(async ({ ctx, input }) => ({
        residents: (await findResidents(ctx.deps.database.db, input)).map((found) => ({
          userId: found.userId,
          lastSeenAt: found.lastSeenAt === null ? null : new Date(found.lastSeenAt).toISOString(),
        })),
      })),
  }),
  privacy: router({
    /**
     * A resident's privacy report for their written request: the same signed document as their
     * own `privacy.report`, audited as `admin.privacy.report` (the admin as actor, the reason,
     * the resident as user id). Limited per admin (RATE_LIMIT_PRIVACY_REPORTS_PER_HOUR).
     */
    report: adminActProcedure
      .input(z.strictObject({ userId: UserId, reason: AdminReason }))
      .output(SignedPrivacyReport)
      .mutation(async ({ ctx, input }) => {
        await enforceRateLimit(
          ctx.deps.rateLimits,
          ctx.responseHeaders,
          "privacy_report",
          `admin:${ctx.principal.userId}`,
        );
        return producePrivacyReport(
          {
            database: ctx.deps.database,
            signer: ctx.deps.receiptSigner,
            statementTimeoutMs: ctx.deps.adminReads.readStatementTimeoutMs,
          },
          { userId: input.userId, audit: ctx.audit, kind: "admin.privacy.report" },
        );
      }),
  }),
  journal: router({
    /**
     * A resident's journal, newest first, a page at a time (`nextCursor` for older entries),
     * with their `journal` consent: without it nothing is kept, so an empty page says why.
     * Opaque ids only, as the resident's own `events.list` shows them.
     */
    list: adminReadProcedure
      .input(
        z.strictObject({
          userId: UserId,
          cursor: z.string().min(1).max(200).optional(),
          deviceId: DeviceId.optional(),
          since: Instant.optional(),
          limit: z.number().int().min(1).max(100).default(50),
        }),
      )
      .query(async ({ ctx, input }) => {
        const { db } = ctx.deps.database;
        const { userId, ...query } = input;
        const [consents, page] = await Promise.all([
          listConsents(db, userId),
          listJournal(db, userId, query),
        ]);
        const consent = consents.find((each) => each.purpose === "journal");
        if (!consent) throw new Error("the journal purpose is missing from the consent list");
        await recordAuditEvent(db, {
          ...ctx.audit,
          kind: "admin.journal.read",
          result: "ok",
          userId,
          target: input.deviceId ?? null,
        });
        return {
          userId,
          consent,
          entries: page.entries.map(({ userId: _user, seq: _seq, ...entry }) => entry),
          nextCursor: page.nextCursor,
        };
      }),
  }),
  partners: router({
    /** What the health probe last saw per partner and check, and the recent transitions. */
    health: adminReadProcedure
      .input(
        z.strictObject({ transitions: z.number().int().min(1).max(500).default(50) }).optional(),
      )
      .query(({ ctx, input }) => partnerHealthReport(ctx.deps.database.db, input)),
  }),
  anomalies: router({
    list: adminReadProcedure
      .input(WatchQuery.optional())
      .query(async ({ ctx, input }) =>
        shownToRole(
          ctx.adminRole,
          await listAnomalies(ctx.deps.database.db, { ...input, since: instant(input?.since) }),
        ),
      ),
  }),
  blocks: router({
    list: adminReadProcedure
      .input(WatchQuery.extend({ activeOnly: z.boolean().optional() }).optional())
      .query(async ({ ctx, input }) =>
        shownToRole(
          ctx.adminRole,
          await listBlocks(ctx.deps.database.db, { ...input, since: instant(input?.since) }),
        ),
      ),
    /** Ends a block early; the reason is kept with the block and on its audit row. */
    lift: adminActProcedure
      .input(z.strictObject({ blockId: TypedId("blk"), reason: AdminReason }))
      .mutation(async ({ ctx, input }) => {
        const block = await liftBlock(
          ctx.deps.database.db,
          { ...input, actor: `admin:${ctx.principal.userId}` },
          ctx.audit,
        );
        // This instance stops enforcing at once; the others on the announcement.
        await ctx.deps.watch.blocks.reload();
        return block;
      }),
  }),
  devices: router({
    list: adminReadProcedure.query(({ ctx }) => listAllDevices(ctx.deps.database.db)),
    upsert: adminActProcedure
      .input(
        z.strictObject({ devices: z.array(DeviceRecord).min(1).max(1000), reason: AdminReason }),
      )
      .mutation(async ({ ctx, input }) => {
        await upsertDevices(ctx.deps.database.db, input.devices, ctx.audit);
        return { upserted: input.devices.length };
      }),
  }),
  consents: router({
    list: adminReadProcedure
      .input(z.strictObject({ userId: UserId }))
      .query(({ ctx, input }) => listConsents(ctx.deps.database.db, input.userId)),
    /**
     * Revokes one purpose (`purpose`) or every purpose (`all: true`) on the resident's behalf
     * (e.g. a written request), in one transaction; the reason is kept with the consent history
     * and on the audit rows. Returns the resident's consents afterwards.
     */
    revoke: adminActProcedure
      .input(
        z.union([
          z.strictObject({ userId: UserId, purpose: z.enum(PURPOSES), reason: AdminReason }),
          z.strictObject({ userId: UserId, all: z.literal(true), reason: AdminReason }),
        ]),
      )
      .mutation(({ ctx, input }) =>
        revokeConsents(
          ctx.deps.database.db,
          {
            userId: input.userId,
            purposes: "purpose" in input ? [input.purpose] : [...PURPOSES],
            channel: "admin",
            method: "admin_action",
            actor: `admin:${ctx.principal.userId}`,
            reason: input.reason,
          },
          ctx.audit,
        ),
      ),
  }),
  erasures: router({
    list: adminReadProcedure
      .input(
        z.strictObject({
          userId: UserId.optional(),
          status: z.enum(ERASURE_STATUSES).optional(),
          limit: z.number().int().min(1).max(500).default(100),
        }),
      )
      .query(({ ctx, input }) => listErasures(ctx.deps.database.db, input)),
    /** Makes a pending erasure due now: the next pass of the erasure worker sends it. */
    retry: adminActProcedure
      .input(z.strictObject({ erasureId: TypedId("ers"), reason: AdminReason }))
      .mutation(({ ctx, input }) => retryErasure(ctx.deps.database.db, input.erasureId, ctx.audit)),
    /**
     * The destruction records (one per erasure a partner confirmed) destroyed in [`from`, `to`),
     * as JSON or RFC 4180 CSV, for an inspection (RKN Order No. 179); audited
     * (`admin.erasures.records`). Kept DESTRUCTION_RECORD_YEARS (3).
     */
    records: adminAuditExportProcedure
      .input(
        z.strictObject({
          from: Instant.optional(),
          to: Instant.optional(),
          format: z.enum(["json", "csv"]),
        }),
      )
      .query(({ ctx, input }) =>
        exportDestructionRecords(
          ctx.deps.database.db,
          {
            format: input.format,
            from: instant(input.from),
            to: instant(input.to),
            keepYears: ctx.deps.settings.destructionRecordYears,
          },
          ctx.audit,
        ),
      ),
  }),
  webhookOutbox: router({
    /**
     * The push relay's outbox: pending and delivered counts, the oldest pending age, and rows
     * newest first (a page ends at `nextBefore`) — ids, attempts and the last error, no payload.
     */
    list: adminReadProcedure
      .input(
        z
          .strictObject({
            status: z.enum(WEBHOOK_STATUSES).optional(),
            userId: UserId.optional(),
            before: z.number().int().positive().optional(),
            limit: z.number().int().min(1).max(500).default(100),
          })
          .optional(),
      )
      .query(async ({ ctx, input }) => {
        const { db } = ctx.deps.database;
        const query = input ?? { limit: 100 };
        const overdueSeconds = ctx.deps.settings.eventsWebhook?.overdueSeconds ?? 300;
        const stats = await webhookOutboxStats(db, { overdueSeconds });
        const rows = await listWebhookOutbox(db, query);
        return {
          configured: ctx.deps.settings.eventsWebhook !== null,
          stats,
          rows,
          nextBefore: rows.length === query.limit ? (rows.at(-1)?.seq ?? null) : null,
        };
      }),
  }),
  videoSessions: router({
    /** Live sessions, and those being ended at the partner (attempts, last error), newest first. */
    list: adminReadProcedure
      .input(
        z.strictObject({
          userId: UserId.optional(),
          state: z.enum(["live", "ending", "ended"]).optional(),
          limit: z.number().int().min(1).max(500).default(100),
        }),
      )
      .query(async ({ ctx, input }) =>
        (await listVideoSessions(ctx.deps.database.db, input)).map(shown),
      ),
    /**
     * Queues the session's end (reason `admin`): the end queue sends the `DELETE` at the partner
     * within `VIDEO_END_INTERVAL_MS` and retries until the partner confirms.
     */
    end: adminActProcedure
      .input(z.strictObject({ sessionId: TypedId("vss"), reason: AdminReason }))
      .mutation(async ({ ctx, input }) => {
        const session = await requestAdminVideoSessionEnd(
          ctx.deps.database.db,
          input.sessionId,
          ctx.audit,
        );
        if (!session) throw new SessionNotFoundError();
        return shown(session);
      }),
  }),
  keys: router({
    /**
     * A resident's guest keys still in force or being ended at the partner (state, attempts,
     * last error), oldest first: ids, doors, validity and label — no code is kept to show.
     */
    list: adminReadProcedure
      .input(z.strictObject({ userId: UserId }))
      .query(({ ctx, input }) => listKeysForAdmin(ctx.deps.database.db, input.userId)),
    /**
     * Ends a resident's key as their own revoke does (queued, reason `admin`: gone from
     * `keys.list` at once; the end queue sends the partner's DELETE), audited with the reason.
     */
    revoke: adminActProcedure
      .input(z.strictObject({ keyId: TypedId("key"), reason: AdminReason }))
      .mutation(async ({ ctx, input }) => {
        const key = await requestAdminKeyEnd(ctx.deps.database.db, input.keyId, ctx.audit);
        if (!key) throw new KeyNotFoundError();
        return key;
      }),
  }),
  audit: router({
    /**
     * A page of the audit trail under the filters, newest first: `nextCursor` pages to older
     * rows, `prevCursor` back to newer ones (keyset on `seq`; as fast on page 1,000 as on 1).
     * A viewer sees each row's client address cut to its network (`198.51.x.x`), here and in
     * `export`.
     */
    list: adminReadProcedure
      .input(
        AuditQueryFilter.extend({
          limit: z.number().int().min(1).max(500).default(50),
          cursor: AuditCursor.optional(),
        }),
      )
      .query(async ({ ctx, input }) => {
        const page = await pageAuditEvents(ctx.deps.database.db, auditFilter(input));
        if (clientIpShown(ctx.adminRole) === "whole") return page;
        return { ...page, rows: page.rows.map(withClientNetwork) };
      }),
    /** The filtered rows as RFC 4180 CSV, newest first, at most 50,000 (`truncated` beyond). */
    export: adminAuditExportProcedure.input(AuditQueryFilter.optional()).query(({ ctx, input }) =>
      exportAuditCsv(ctx.deps.database.db, auditFilter(input ?? {}), ctx.audit, {
        clientIp: clientIpShown(ctx.adminRole),
      }),
    ),
    /** Recomputes the hash chain: any edited, deleted or inserted row is reported. */
    verify: adminAuditVerifyProcedure.query(({ ctx }) =>
      verifyAuditChain(ctx.deps.database.db, {
        publicKey: ctx.deps.settings.auditVerifyKey ?? undefined,
        statementTimeoutMs: ctx.deps.adminReads.auditStatementTimeoutMs,
      }),
    ),
  }),
  vpn: router({
    /** Connects and disconnects seen on the VPN, newest first; one peer's with its fingerprint. */
    events: adminReadProcedure
      .input(
        z
          .strictObject({
            peerFingerprint: z
              .string()
              .regex(/^[0-9a-f]{16}$/)
              .optional(),
            limit: z.number().int().min(1).max(500).default(100),
          })
          .optional(),
      )
      .query(({ ctx, input }) => listVpnEvents(ctx.deps.database.db, input)),
  }),
});
