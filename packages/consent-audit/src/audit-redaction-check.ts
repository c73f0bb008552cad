import type { KeyObject } from "node:crypto";
import { type SQL, sql } from "drizzle-orm";
import { sha256HexSql } from "./audit-content-sql";
import { checkpointSignatureValid, redactionMessage } from "./audit-signing";
import type { auditRedactions } from "./schema/audit-redactions";

type AuditRedaction = typeof auditRedactions.$inferSelect;

/**
 * Every redaction record beside the rows that name it, regrouped from the table (the partial
 * index of redacted rows): how many, their digest as `redactionDigest` builds it, the first, and
 * whether one was written after the record's cut. Records without rows and rows without a record
 * (of their chain) come out too. Chain order.
 */
const REDACTION_GROUPS = sql.raw(`
select coalesce(r.id, g.redaction_id) as id, coalesce(r.chain_id, g.chain_id) as "chainId",
  r.id is not null as recorded, r.rows::float8 as "recordRows", r.digest as "recordDigest",
  coalesce(g.rows, 0)::float8 as rows, g.digest, g.first_seq::float8 as "firstSeq",
  coalesce(g.newest >= r.before, false) as late
from audit_redactions r
full join (
  select e.redaction_id, e.chain_id, count(*) as rows, min(e.seq) as first_seq, max(e.at) as newest,
    ${sha256HexSql(
      `pg_catalog.string_agg(e.chain_seq::text || ':' || e.hash || ':' || coalesce(e.redacted_digest, ''), E'\\n' order by e.chain_seq)`,
    )} as digest
  from audit_events e where e.redaction_id is not null
  group by e.redaction_id, e.chain_id) g
on g.redaction_id = r.id and g.chain_id = r.chain_id
order by 2, "firstSeq" nulls last, 1`);

interface RedactionGroup extends Record<string, unknown> {
  id: string;
  chainId: string;
  recorded: boolean;
  recordRows: number | null;
  recordDigest: string | null;
  rows: number;
  digest: string | null;
  firstSeq: number | null;
  late: boolean;
}

export interface RedactionFault {
  firstBadSeq: number | null;
  reason: string;
}

/** The first redaction record not signed by the audit key (`keyId` its id), if any. */
export function unsignedRedaction(
  records: readonly AuditRedaction[],
  publicKey: KeyObject,
  keyId: string,
): RedactionFault | null {
  const forged = records.find(
    (record) =>
      record.keyId !== keyId ||
      !checkpointSignatureValid(publicKey, redactionMessage(record), record.signature),
  );
  if (!forged) return null;
  return {
    firstBadSeq: null,
    reason: `redaction record ${forged.id} of chain ${forged.chainId} is not signed by the audit key`,
  };
}

/**
 * Each record against its rows: as many as it says, the same digest, none written after its
 * cut, and no row naming a record its chain lacks. The first fault in chain order, or how many
 * rows are redacted.
 */
export async function checkRedactionRecords(
  run: <R extends Record<string, unknown>>(query: SQL) => Promise<R[]>,
): Promise<RedactionFault | { redacted: number }> {
  let redacted = 0;
  for (const group of await run<RedactionGroup>(REDACTION_GROUPS)) {
    const record = `redaction record ${group.id} of chain ${group.chainId}`;
    const fault = !group.recorded
      ? `${record} does not match its rows: there is no such record`
      : group.rows !== group.recordRows || group.digest !== group.recordDigest
        ? `${record} does not match its rows`
        : group.late
          ? `${record} does not match its rows: one was written after its cut`
          : null;
    if (fault) return { firstBadSeq: group.firstSeq, reason: fault };
    redacted += group.rows;
  }
  return { redacted };
}
