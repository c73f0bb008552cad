/**
 * What a privacy report says about where each part of the data goes and when. The periods are
 * settings of the daily retention job, tabled in docs/data-retention.md (English and Russian),
 * which `policy` names for the reader.
 */
export const RETENTION_FACTS = {
  policy: "docs/data-retention.md",
  rules: [
    {
      data: "consents",
      rule: "the history of grants and revokes is the evidence of consent (152-FZ art. 9) and is kept while any purpose is in force, then CONSENT_HISTORY_RETENTION_DAYS (3 years by default) after the revocation",
    },
    {
      data: "partners",
      rule: "a partner holds your pseudonym while you use its service; revoking faces or plates asks the partner to erase them, followed until it confirms (erasures); a pseudonym you no longer consent to is forgotten after PARTNER_SUBJECT_RETENTION_DAYS (90 by default)",
    },
    {
      data: "audit",
      rule: "audit rows are kept; after AUDIT_PERSONAL_DATA_DAYS (365 by default) their personal fields (user id, client address, a target naming you) are redacted while the chain stays verifiable",
    },
    {
      data: "videoSessions",
      rule: "a session ends at its lifetime, at a revoke of video or when you end it; ended sessions are pruned after VIDEO_SESSION_RETENTION_DAYS (30 by default)",
    },
    {
      data: "guestKeys",
      rule: "codes are never stored; ended keys are pruned after GUEST_KEY_RETENTION_DAYS (30 by default)",
    },
    {
      data: "journal",
      rule: "kept only while journal consent is granted, each entry for JOURNAL_RETENTION_DAYS (90 by default); revoking journal erases it at once",
    },
    {
      data: "erasures",
      rule: "destruction records are kept DESTRUCTION_RECORD_YEARS (3 by default, RKN Order No. 179) after the destruction",
    },
    {
      data: "blocks",
      rule: "blocks expire (15 minutes, doubling per offence); blocks that are over and anomalies are pruned after BLOCK_RETENTION_DAYS and ANOMALY_RETENTION_DAYS (90 by default)",
    },
    {
      data: "units",
      rule: "refreshed from your token; a unit your token stops naming no longer addresses you",
    },
  ],
} as const;
