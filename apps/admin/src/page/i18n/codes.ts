import {
  ANOMALY_KINDS,
  AUDIT_KINDS,
  AUDIT_OPERATIONS,
  AUDIT_RESULTS,
  BLOCK_SUBJECT_TYPES,
  CALL_OUTCOMES,
  CONSENT_CHANNELS,
  CONSENT_METHODS,
  DEVICE_KINDS,
  ENTRY_METHODS,
  ERASURE_REASONS,
  ERROR_CODES,
  PARTNERS,
  PURPOSES,
} from "@propgate/domain";

/**
 * The codes the admin page shows with a plain-language explanation beside them, by group: each
 * group is one of the vocabulary's lists, so a code added there needs its explanation in every
 * catalogue (`<group>.<code>`; the compiler asks for it, and the catalogue test too).
 */
export const CODE_GROUPS = {
  kind: AUDIT_KINDS,
  operation: AUDIT_OPERATIONS,
  result: AUDIT_RESULTS,
  cause: ERROR_CODES,
  purpose: PURPOSES,
  partner: PARTNERS,
  method: CONSENT_METHODS,
  channel: CONSENT_CHANNELS,
  anomaly: ANOMALY_KINDS,
  subject: BLOCK_SUBJECT_TYPES,
  device: DEVICE_KINDS,
  entry: ENTRY_METHODS,
  call: CALL_OUTCOMES,
  erasureReason: ERASURE_REASONS,
} as const;
export type CodeGroup = keyof typeof CODE_GROUPS;

/** The explanations of one group in one language: every code of it. */
export type Explanations<G extends CodeGroup> = Record<(typeof CODE_GROUPS)[G][number], string>;
