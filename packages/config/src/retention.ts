import { integer } from "./fields.ts";

/**
 * How long each kind of personal data is kept (invariant 9, docs/data-retention.md): read by
 * `propgate retention run` (the daily job), and the journal's and destruction records' periods
 * by the api too. `0` is allowed everywhere but for destruction records (a test database's
 * "prune everything now"); nothing live is ever pruned whatever the period.
 */
export const retentionEnv = {
  // FSTEC Order No. 21 (RSB.7): security events are kept at least three months.
  ANOMALY_RETENTION_DAYS: integer(0, 3650).default(90).meta({
    description:
      "days an anomaly (a rule's finding: a user id, client id or IP address) is kept after it was last seen: three months of security events (FSTEC Order No. 21) for an investigation",
  }),
  BLOCK_RETENTION_DAYS: integer(0, 3650).default(90).meta({
    description:
      "days an expired or lifted block is kept after its end; blocks in force are never pruned. A repeat offender's doubling forgets blocks older than this",
  }),
  VPN_EVENT_RETENTION_DAYS: integer(0, 3650).default(90).meta({
    description:
      "days a VPN connection event (a partner peer's key fingerprint and address) is kept: three months of security events (FSTEC Order No. 21)",
  }),
  VIDEO_SESSION_RETENTION_DAYS: integer(0, 3650).default(30).meta({
    description:
      "days an ended video session is kept after its end, for the resident's report and support questions; live sessions are never pruned (their `partner.request` audit rows remain)",
  }),
  GUEST_KEY_RETENTION_DAYS: integer(0, 3650).default(30).meta({
    description:
      'days an ended guest key (revoked, expired, ended at the partner) is kept, for the resident\'s "who did I let in"; keys still valid or still ending are never pruned',
  }),
  // The `journal` notice promises 90 days; JOURNAL_RETENTION_DAYS=0 keeps nothing past an hour.
  JOURNAL_RETENTION_DAYS: integer(0, 3650).default(90).meta({
    description:
      "days a resident's journal entry is kept (then pruned hourly, and by the retention job); the `journal` notice says 90 by default",
  }),
  WEBHOOK_DELIVERED_RETENTION_DAYS: integer(0, 3650).default(7).meta({
    description:
      "days a webhook message tenant-core acknowledged is kept after its delivery (a trace for delivery questions); undelivered ones stay until delivered or their journal entry goes",
  }),
  PARTNER_SUBJECT_RETENTION_DAYS: integer(0, 3650).default(90).meta({
    description:
      "days a partner's subject pseudonym of a resident is kept unused once the resident holds no consent for that partner's purposes; never while an erasure at that partner is unconfirmed (it names the subject)",
  }),
  ERASURE_REQUEST_RETENTION_DAYS: integer(0, 3650).default(90).meta({
    description:
      "days an erasure request the partner confirmed done is kept (the admin erasures screen); its destruction record keeps the proof for `DESTRUCTION_RECORD_YEARS`. Unconfirmed ones are never pruned",
  }),
  // 152-FZ art. 9 (3): the operator proves consent; claims lapse after 3 years (Civil Code art. 196).
  CONSENT_HISTORY_RETENTION_DAYS: integer(0, 36_500).default(1095).meta({
    description:
      "days the history of a consent (every grant and revoke, with notice version, channel and time) is kept after it was revoked: the operator must prove consent (152-FZ art. 9) for the 3-year limitation period (Civil Code art. 196). Granted consents are kept whole",
  }),
  AUDIT_PERSONAL_DATA_DAYS: integer(0, 3650).default(365).meta({
    description:
      "days an audit row keeps its personal fields (user id, client IP, a person's target); then they are replaced by a keyed digest and the row (operation, time, result) stays, so `audit verify` still passes",
  }),
  // RKN Order No. 179: the act of destruction and the log extract are kept 3 years.
  DESTRUCTION_RECORD_YEARS: integer(1, 50).default(3).meta({
    description:
      "years a destruction record (an erasure a partner confirmed, with the user id it names) is kept after the destruction, then pruned by the retention job; exports show each record's `keepUntil`",
  }),
};

/** The retention settings as parsed. */
export type RetentionSettings = {
  [K in keyof typeof retentionEnv]: number;
};
