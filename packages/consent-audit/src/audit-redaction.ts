import { type AuditKind, newId } from "@propgate/domain";
import { asc, gt, sql } from "drizzle-orm";
import { z } from "zod";
import { sha256Hex } from "./audit-chain";
import { canonicalContentSql, type PersonalFieldsSql, sha256HexSql } from "./audit-content-sql";
import { type AuditSigner, redactionMessage } from "./audit-signing";
import { type Database, rowsOf } from "./database";
import { InvalidInputError } from "./errors";
import { auditEvents } from "./schema/audit-events";
import { auditRedactions } from "./schema/audit-redactions";
import { parseInput } from "./validation";

/**
 * What each kind of audit row keeps in `target`, read from its writers: `person` (a user id, an
 * IP address, a resident's block subject) is removed by retention with `user_id` and
 * `client_ip`; `thing` (a device, site, unit, key, face record, erasure categories, a count)
 * is kept; `none` (its writers leave it null) is removed should a writer ever set it. A kind
 * added to AUDIT_KINDS fails to compile here until someone decides.
 */
export const AUDIT_TARGETS = {
  "consent.grant": "none",
  "consent.revoke": "none",
  // A device or site id, a resident's own face record or key id: what was acted on.
  "partner.request": "thing",
  "partner.response": "thing",
  "access.denied": "thing",
  "admin.devices.upsert": "thing",
  "admin.units.upsert": "thing",
  // The erasure's categories (`plates,faces`).
  "erasure.requested": "thing",
  "erasure.completed": "thing",
  "erasure.overdue": "thing",
  "admin.erasures.retry": "thing",
  // The export's format and period.
  "admin.erasures.records": "thing",
  "partner.access_check": "thing",
  "partner.event": "thing",
  // `resident:<user id>`, `ip:<address>`, `resident_keys:<user id>`: the one blocked.
  "block.placed": "person",
  // The block's id.
  "admin.blocks.lift": "thing",
  "admin.video_sessions.end": "thing",
  "admin.keys.revoke": "thing",
  // The filter the admin exported under: may be a block subject, so a person.
  "admin.audit.export": "person",
  // The device the admin's read was filtered to.
  "admin.journal.read": "thing",
  // How many entries.
  "journal.erased": "thing",
  // Written elsewhere (the report, the retention job): whom it is about, so a person.
  "privacy.report": "person",
  "admin.privacy.report": "person",
  "retention.run": "thing",
} as const satisfies Record<AuditKind, "person" | "thing" | "none">;

/** Kinds whose `target` a redaction removes: every kind whose target is not a thing's. */
export const REDACTED_TARGET_KINDS = (Object.keys(AUDIT_TARGETS) as AuditKind[]).filter(
  (kind) => AUDIT_TARGETS[kind] !== "thing",
);

const PERSONAL_TARGET = `e.kind in (${REDACTED_TARGET_KINDS.map((kind) => `'${kind}'`).join(", ")})`;

/**
 * `actor` forms that name no resident, kept: an admin (`admin:<id>`), an operator at the CLI,
 * a partner's client. Any other actor is removed: a resident acting (their user id, the
 * residents' api sets it), and, failing safe, anything else.
 */
export const KEPT_ACTOR_PREFIXES = ["admin:", "operator:", "partner:"] as const;

const KEPT_ACTOR = KEPT_ACTOR_PREFIXES.map(
  (prefix) => `pg_catalog.starts_with(e.actor, '${prefix}')`,
).join(" or ");

/** The personal fields as a redaction leaves them. */
const REDACTED: PersonalFieldsSql = {
  actor: `case when ${KEPT_ACTOR} then e.actor end`,
  clientIp: "null::text",
  userId: "null::text",
  target: `case when ${PERSONAL_TARGET} then null else e.target end`,
};

const STORED = canonicalContentSql("stored");
const AFTER = canonicalContentSql("after", REDACTED);

/**
 * Rows that may still hold a field retention removes: the predicate of the partial index
 * `audit_events_unredacted_idx`, written as there so the planner walks it.
 */
const MAY_HOLD_PERSONAL = sql`${auditEvents.redactionId} is null and (${auditEvents.userId} is not null or ${auditEvents.clientIp} is not null or ${auditEvents.target} is not null or ${auditEvents.actor} is not null)`;

/**
 * `seq` and `at` rise together but not in lock step (`at` is taken just before the insert): the
 * walk goes this far past the cut before it stops; a row it missed is the next run's.
 */
const SKEW_MS = 60_000;

export interface AuditRedactionResult {
  /** Rows whose personal fields were removed in this call. */
  rows: number;
  /** Signed redaction records written (one per chain per batch). */
  records: number;
}

const RedactionOptions = z.strictObject({
  before: z.date(),
  batchSize: z.number().int().min(1).max(50_000).default(5000),
  now: z.date().optional(),
});

/**
 * The digest a redaction record signs: sha256 hex of its rows' `chain_seq:hash:redacted_digest`
 * lines in `chain_seq` order, joined by `\n` (verify builds the same with `string_agg`).
 */
export function redactionDigest(
  rows: readonly { chainSeq: number; hash: string; redactedDigest: string }[],
): string {
  return sha256Hex(
    rows.map((row) => `${row.chainSeq}:${row.hash}:${row.redactedDigest}`).join("\n"),
  );
}

interface Candidate extends Record<string, unknown> {
  id: string;
  chainId: string;
  chainSeq: number;
  hash: string;
  intact: boolean;
  redactedDigest: string;
}

/**
 * Removes the personal fields of the audit rows written before `before` (not yet redacted):
 * `user_id`, `client_ip`, `target` where `AUDIT_TARGETS` says it is a person's, and `actor`
 * unless it is one of `KEPT_ACTOR_PREFIXES`. Each row's
 * hash is first checked against its full content (a row that fails is left as it is, for verify
 * to report); each kept row gets `redacted_digest` = sha256(hash + its canonical content after
 * redaction) and the id of a redaction record, signed by `signer`, over its chain's rows of the
 * batch. Batches of `batchSize` rows, one transaction each; rows another run holds are skipped
 * (`SKIP LOCKED`), so two runs never sign the same row. Writers are never waited for: they only
 * append, and this only updates old rows.
 */
export async function redactAuditRows(
  db: Database,
  options: { before: Date; signer: AuditSigner; batchSize?: number; now?: Date },
): Promise<AuditRedactionResult> {
  const { signer, ...rest } = options;
  const { before, batchSize, now } = parseInput(RedactionOptions, rest, "audit redaction");
  const clock = () => now ?? new Date();
  if (before.getTime() > clock().getTime()) {
    // Irreversible: a cut in the future would take the personal fields of rows just written.
    throw new InvalidInputError("invalid audit redaction", ["before: must not be later than now"]);
  }
  const stopAt = before.getTime() + SKEW_MS;
  const total: AuditRedactionResult = { rows: 0, records: 0 };
  let cursor = 0;
  for (;;) {
    const batch = await db.transaction(async (tx) => {
      const walked = await tx
        .select({ seq: auditEvents.seq, id: auditEvents.id, at: auditEvents.at })
        .from(auditEvents)
        .where(sql`${MAY_HOLD_PERSONAL} and ${gt(auditEvents.seq, cursor)}`)
        .orderBy(asc(auditEvents.seq))
        .limit(batchSize);
      const due = walked.filter((row) => row.at.getTime() < before.getTime());
      const done = { rows: 0, records: 0 };
      if (due.length > 0) Object.assign(done, await redactRows(tx, due, { before, signer, clock }));
      const last = walked.at(-1);
      const more = walked.length === batchSize && last !== undefined && last.at.getTime() < stopAt;
      return { ...done, cursor: last?.seq ?? cursor, more };
    });
    total.rows += batch.rows;
    total.records += batch.records;
    cursor = batch.cursor;
    if (!batch.more) return total;
  }
}

async function redactRows(
  tx: Database,
  due: readonly { id: string }[],
  options: { before: Date; signer: AuditSigner; clock: () => Date },
): Promise<AuditRedactionResult> {
  const ids = sql.join(
    due.map((row) => sql`${row.id}`),
    sql`, `,
  );
  // Locked, re-read (another run may have redacted them since the walk), checked, and the
  // content after redaction hashed by the same SQL verify uses.
  const candidates = rowsOf<Candidate>(
    await tx.execute(sql`
      select e.id, e.chain_id as "chainId", e.chain_seq::float8 as "chainSeq", e.hash,
        ${sql.raw(sha256HexSql(`e.prev_hash || ${STORED.json}`))} = e.hash as intact,
        ${sql.raw(sha256HexSql(`e.hash || ${AFTER.json}`))} as "redactedDigest"
      from audit_events e, ${sql.raw(STORED.laterals)}, ${sql.raw(AFTER.laterals)}
      where e.id in (${ids}) and e.at < ${options.before.toISOString()}::timestamptz
        and e.redaction_id is null
        and (e.user_id is not null or e.client_ip is not null
          or (e.target is not null and ${sql.raw(PERSONAL_TARGET)})
          or (e.actor is not null and not (${sql.raw(KEPT_ACTOR)})))
      order by e.chain_id, e.chain_seq
      for update of e skip locked`),
  );
  const byChain = new Map<string, Candidate[]>();
  for (const row of candidates) {
    if (!row.intact) continue; // tampered before: left for verify to name
    const chain = byChain.get(row.chainId) ?? [];
    chain.push(row);
    byChain.set(row.chainId, chain);
  }
  if (byChain.size === 0) return { rows: 0, records: 0 };
  const at = options.clock();
  const records: (typeof auditRedactions.$inferInsert)[] = [];
  const marks: { id: string; redaction_id: string; digest: string }[] = [];
  for (const [chainId, rows] of byChain) {
    const signed = {
      id: newId("red"),
      chainId,
      at,
      before: options.before,
      rows: rows.length,
      digest: redactionDigest(rows),
    };
    records.push({
      ...signed,
      keyId: options.signer.keyId,
      signature: options.signer.sign(redactionMessage(signed)),
    });
    for (const row of rows) {
      marks.push({ id: row.id, redaction_id: signed.id, digest: row.redactedDigest });
    }
  }
  await tx.execute(sql`
    update audit_events e set user_id = null, client_ip = null,
      target = ${sql.raw(REDACTED.target)}, actor = ${sql.raw(REDACTED.actor)},
      redaction_id = v.redaction_id, redacted_digest = v.digest
    from pg_catalog.jsonb_to_recordset(${JSON.stringify(marks)}::jsonb)
      as v(id text, redaction_id text, digest text)
    where e.id = v.id`);
  await tx.insert(auditRedactions).values(records);
  return { rows: marks.length, records: records.length };
}
