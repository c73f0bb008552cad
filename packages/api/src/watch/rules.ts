import type { AnomalyKind, BlockSubjectType } from "@propgate/domain";

/**
 * Every rule: what it counts, per whom, the anomaly it reports, and whether a hit blocks its
 * subject. A rule blocks only where blocking protects someone (docs/architecture.md, invariant
 * 7): its offender costs partners or residents something (checks, opens, probes for ids) or is
 * guessing credentials. Refusals that cost nothing are recorded, counted and alerted on only.
 * `per: "member"` counts per (subject, member) but blocks the subject.
 */
export const WATCH_RULES = {
  /** Access checks by one partner client per minute (the owner's "mass access checks"). */
  access_checks: {
    kind: "mass_access_checks",
    subject: "partner_client",
    distinct: false,
    blocks: true,
  },
  /** Distinct subjects checked by one partner client per minute. */
  access_check_subjects: {
    kind: "mass_access_checks",
    subject: "partner_client",
    distinct: true,
    blocks: true,
  },
  /** Distinct devices or sites a resident was refused (FORBIDDEN_DEVICE / FORBIDDEN_SITE). */
  refused_targets: { kind: "enumeration", subject: "resident", distinct: true, blocks: true },
  /** Door and gate opens by one resident. */
  opens: { kind: "unusual_opening", subject: "resident", distinct: false, blocks: true },
  /**
   * Bad or missing bearer tokens from one client IP on the resident api. The block refuses only
   * requests from that address whose credentials fail: a valid token still passes (a NAT).
   */
  auth_failures: { kind: "credential_guessing", subject: "ip", distinct: false, blocks: true },
  /**
   * Failed client authentication at the partner token endpoint, per (client id, peer): the
   * guessing peer is blocked, never the client whose id it tries (ids are not secret).
   */
  token_failures_client: {
    kind: "partner_credential_guessing",
    subject: "ip",
    distinct: false,
    blocks: true,
    per: "member",
  },
  /** Failed client authentication at the partner token endpoint, per peer address. */
  token_failures_peer: {
    kind: "partner_credential_guessing",
    subject: "ip",
    distinct: false,
    blocks: true,
  },
  /**
   * CONSENT_REQUIRED answers to one resident: they cost nothing (no partner call) and the rate
   * limit bounds them, while an app retrying through a revocation trips them: never a block.
   */
  consent_refusals: {
    kind: "consent_probing",
    subject: "resident",
    distinct: false,
    blocks: false,
  },
  /**
   * Guest keys a resident created: the block stops their key creation only (`resident_keys`),
   * since a key spammer's opens, lists, revokes and consent harm nobody and stay theirs.
   */
  key_creations: {
    kind: "mass_key_creation",
    subject: "resident_keys",
    distinct: false,
    blocks: true,
  },
  /** Requests to the partner surface from outside the VPN, per peer address: already refused. */
  outside_vpn: { kind: "outside_vpn", subject: "ip", distinct: false, blocks: false },
} as const satisfies Record<
  string,
  {
    kind: AnomalyKind;
    subject: BlockSubjectType;
    distinct: boolean;
    blocks: boolean;
    per?: "member";
  }
>;
export type WatchRule = keyof typeof WATCH_RULES;

export interface RulePolicy {
  /** The count (or distinct count) that fires the rule within the window. */
  threshold: number;
  windowSeconds: number;
}
