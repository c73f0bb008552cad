import { randomUUID } from "node:crypto";
import type { PartnerSettings } from "@propgate/config";
import type { Partner } from "@propgate/domain";
import {
  auditErrorCode,
  barrierOperations,
  type CallHooks,
  createPartnerClient,
  createPartnerFetch,
  createPartnerTokenSource,
  intercomOperations,
  OPERATIONS,
  type OpenDeviceInput,
  type OperationName,
  type PartnerClient,
  PartnerProtocolError,
  PartnerRejectedError,
  type PartnerScope,
  PartnerUnavailableError,
  subjectFor,
  type TokenSource,
} from "@propgate/partner-client";
import { observedFetch } from "./observed-fetch.ts";
import type { CheckRow } from "./report.ts";

/** One run of `partner verify`: its clients, tokens, synthetic subject and rows so far. */

/** The partner's test ids the checks act on; null skips the checks that need one. */
export interface VerifyTargets {
  device: string | null;
  camera: string | null;
  site: string | null;
}

/** A command-line flag a check needs, and its value (null: not given). */
export type Flag = [flag: string, value: string | null];

export interface VerifyInput {
  partner: Partner;
  settings: PartnerSettings;
  allowInsecureLoopback: boolean;
  targets: VerifyTargets;
  /** How long an accepted (202) erasure is followed on its status endpoint (--erasure-wait). */
  erasureWaitSeconds: number;
}

export const pass = (check: string, detail: string): CheckRow => ({
  check,
  status: "pass",
  detail,
});
export const fail = (check: string, detail: string): CheckRow => ({
  check,
  status: "fail",
  detail,
});
export const skip = (check: string, detail: string): CheckRow => ({
  check,
  status: "skip",
  detail,
});

/** One word for what went wrong, in our terms: never the partner's body text or a token. */
export function describeFailure(error: unknown): string {
  if (error instanceof PartnerRejectedError)
    return `refused: HTTP ${error.status} ${auditErrorCode(error.status, error.partnerError)}`;
  if (error instanceof PartnerProtocolError) {
    const fields = error.fields.length > 0 ? ` (fields: ${error.fields.join(", ")})` : "";
    return `${error.message}${fields}`;
  }
  if (error instanceof PartnerUnavailableError) return error.message;
  return `failed (${error instanceof Error ? error.name : "unknown error"})`;
}

/** Hooks that keep each attempt's HTTP status in memory: no audit row, no database. */
export function attemptLog() {
  const statuses: Array<number | null> = [];
  const hooks: CallHooks = {
    beforeAttempt: async () => {},
    afterAttempt: async (outcome) => {
      statuses.push(outcome.httpStatus);
    },
  };
  return { hooks, statuses, last: () => statuses.at(-1) ?? null };
}

export class Verification {
  readonly rows: CheckRow[] = [];
  readonly oauth: ReturnType<typeof observedFetch>;
  readonly answers: ReturnType<typeof observedFetch>;
  readonly tokens: TokenSource;
  readonly client: PartnerClient;
  /** A subject that stands for no resident: the HMAC of a fresh random id. */
  readonly subject: string;
  granted = new Set<PartnerScope>();

  constructor(readonly input: VerifyInput) {
    const { settings } = input;
    const transport = createPartnerFetch(settings);
    this.oauth = observedFetch(transport, { readFields: true });
    this.answers = observedFetch(transport, { readFields: false });
    this.tokens = createPartnerTokenSource(settings, {
      fetch: this.oauth.fetch,
      allowInsecureLoopback: input.allowInsecureLoopback,
      requestTimeoutMs: settings.timeoutMs,
      // Each scope asked once: no waiting out a back-off between the rows.
      backoffInitialMs: 0,
      backoffMaxMs: 0,
    });
    this.client = this.clientWith(this.tokens);
    this.subject = subjectFor(`propgate-verify:${randomUUID()}`, settings.subjectKey);
  }

  /** The api's partner client, over this run's fetch, with these tokens. */
  clientWith(tokens: TokenSource): PartnerClient {
    const { settings } = this.input;
    return createPartnerClient({
      name: settings.name,
      baseUrl: settings.baseUrl,
      tokenSource: tokens,
      fetch: this.answers.fetch,
      timeoutMs: settings.timeoutMs,
    });
  }

  /** Runs one check unless its scope has no token or a flag it needs was not given. */
  async check(
    name: string,
    needs: { operation: OperationName; flags?: Flag[] },
    run: () => Promise<CheckRow>,
  ): Promise<void> {
    const scope = OPERATIONS[needs.operation].scope;
    const missing = (needs.flags ?? []).filter(([, value]) => value === null);
    if (missing.length > 0) {
      const give = missing.map(([flag]) => `${flag} <id>`).join(" and ");
      this.rows.push(skip(name, `give ${give} to check ${needs.operation}`));
      return;
    }
    if (!this.granted.has(scope)) {
      this.rows.push(skip(name, `no ${scope} token (see token:${scope})`));
      return;
    }
    try {
      this.rows.push(await run());
    } catch (error) {
      this.rows.push(fail(name, describeFailure(error)));
    }
  }

  open(client: PartnerClient): (input: OpenDeviceInput) => Promise<{ eventId: string }> {
    return this.input.partner === "intercom"
      ? intercomOperations(client).openDoor
      : barrierOperations(client).openGate;
  }
}
