/*
 * A row's canonical content (`canonicalAuditContent`) built by the database, for verify and for
 * the redaction that must leave rows verify accepts: `row_to_json` of the fields in sorted key
 * order prints exactly as JSON.stringify does (no spaces; the same escapes), `at` as ISO-8601
 * UTC with milliseconds. Every function is pg_catalog's: nothing stored in the database computes
 * it. A test holds the two to the same hash over awkward text.
 */

/** SQL expressions of the personal fields, as stored (verify) or as a redaction leaves them. */
export interface PersonalFieldsSql {
  actor: string;
  clientIp: string;
  target: string;
  userId: string;
}

export const PERSONAL_AS_STORED: PersonalFieldsSql = {
  actor: "e.actor",
  clientIp: "e.client_ip",
  target: "e.target",
  userId: "e.user_id",
};

/** The select list of the content, with the optional keys (`reason`, `trace_id`) asked for. */
const fields = (optional: { reason: boolean; traceId: boolean }, personal: PersonalFieldsSql) =>
  `${personal.actor} as actor,
  pg_catalog.to_char(e.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at, e.attempt,
  e.call_id, ${personal.clientIp} as client_ip, e.error_code, e.http_status, e.id, e.instance_id,
  e.kind, e.latency_ms, e.operation, e.partner, e.purpose, ${optional.reason ? "e.reason, " : ""}e.request_id, e.result,
  e.chain_seq as seq, e.source_app, ${personal.target} as target, ${optional.traceId ? "e.trace_id, " : ""}${personal.userId} as user_id`;

/**
 * The canonical JSON of `audit_events e` as a text expression, and the `lateral` subqueries
 * (named after `name`) it reads from. `reason` and `trace_id` are keys only where the row has
 * them: one subquery per combination, the row's picked by a `case`.
 */
export function canonicalContentSql(
  name: string,
  personal: PersonalFieldsSql = PERSONAL_AS_STORED,
): { laterals: string; json: string } {
  const variant = (reason: boolean, traceId: boolean) =>
    `lateral (select ${fields({ reason, traceId }, personal)}) ${name}_${reason ? "r" : ""}${traceId ? "t" : ""}c`;
  return {
    laterals: [
      variant(false, false),
      variant(true, false),
      variant(false, true),
      variant(true, true),
    ].join(",\n      "),
    json: `case when e.reason is null and e.trace_id is null then pg_catalog.row_to_json(${name}_c)::text
      when e.trace_id is null then pg_catalog.row_to_json(${name}_rc)::text
      when e.reason is null then pg_catalog.row_to_json(${name}_tc)::text
      else pg_catalog.row_to_json(${name}_rtc)::text end`,
  };
}

/** sha256 hex of the UTF-8 of a text expression. */
export const sha256HexSql = (text: string) =>
  `pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(${text}, 'UTF8')), 'hex')`;
