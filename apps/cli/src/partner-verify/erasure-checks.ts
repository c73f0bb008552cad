import { randomUUID } from "node:crypto";
import { ERASURE_CATEGORIES, ERASURE_PARTNER } from "@propgate/domain";
import {
  auditErrorCode,
  PartnerRejectedError,
  subjectFor,
  subjectOperations,
} from "@propgate/partner-client";
import type { CheckRow } from "./report.ts";
import {
  attemptLog,
  describeFailure,
  fail,
  pass,
  skip,
  type Verification,
} from "./verification.ts";

/**
 * The erasure rows: `subjects.erase` for the synthetic subject, then `subjects.erasure_status`
 * following it as the api's erasure worker does (the same client and decoder, so the same strict
 * reading), and `subjects.erasure_status.unknown` for a subject never erased.
 */

/** How long an accepted (202) erasure is followed by default (`--erasure-wait`). */
export const DEFAULT_ERASURE_WAIT_SECONDS = 5;
/** The most `--erasure-wait` takes: a check run by hand, not the api's 25-day deadline. */
export const MAX_ERASURE_WAIT_SECONDS = 300;
/** Between polls when the partner sends no Retry-After (the api uses ERASURE_POLL_SECONDS). */
const POLL_WITHOUT_RETRY_AFTER_MS = 1000;
/** A Retry-After of 0 is still not a busy loop. */
const MIN_POLL_MS = 250;

const ERASE = "subjects.erase";
const STATUS = "subjects.erasure_status";
const UNKNOWN = "subjects.erasure_status.unknown";

/** How the erasure was answered: what the status row expects of the status endpoint. */
interface EraseOutcome {
  httpStatus: number | null;
  state: "done" | "accepted";
}

export async function checkErasure(run: Verification): Promise<void> {
  const erased = await checkErase(run);
  if (erased === null) {
    run.rows.push(skip(STATUS, `no erasure to follow (see ${ERASE})`));
  } else {
    await run.check(STATUS, { operation: STATUS }, () =>
      erased.state === "accepted" ? followAccepted(run) : statusAfterDone(run, erased),
    );
  }
  await run.check(UNKNOWN, { operation: STATUS }, () => statusOfUnknown(run));
}

/** Erasure of what the partner holds for the synthetic subject: 200, 202 or 204. */
async function checkErase(run: Verification): Promise<EraseOutcome | null> {
  const partner = run.input.partner;
  const categories = ERASURE_CATEGORIES.filter((category) => ERASURE_PARTNER[category] === partner);
  let outcome: EraseOutcome | null = null;
  await run.check(ERASE, { operation: ERASE }, async () => {
    const log = attemptLog();
    const answer = await subjectOperations(run.client).erase({
      subject: run.subject,
      categories,
      hooks: log.hooks,
    });
    outcome = { httpStatus: log.last(), state: answer.state };
    const what = categories.join(",");
    if (answer.state === "accepted")
      return pass(ERASE, `HTTP ${log.last()}: ${what} accepted (erased later)`);
    const counts = answer.erased
      ? ` (${Object.entries(answer.erased)
          .map(([category, count]) => `${category} ${count}`)
          .join(", ")})`
      : "";
    return pass(ERASE, `HTTP ${log.last()}: ${what} erased${counts}`);
  });
  return outcome;
}

type StatusAnswer = Awaited<ReturnType<ReturnType<typeof subjectOperations>["erasureStatus"]>>;

/** One status request: the decoded answer, or `not_found` for the contract's 404. */
async function askStatus(
  run: Verification,
  subject: string,
): Promise<StatusAnswer | { state: "not_found"; errorCode: string | null }> {
  try {
    return await subjectOperations(run.client).erasureStatus({ subject });
  } catch (error) {
    if (error instanceof PartnerRejectedError && error.status === 404)
      return {
        state: "not_found",
        errorCode: error.partnerError === null ? null : auditErrorCode(404, error.partnerError),
      };
    throw error;
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);

/**
 * After a 202: asks until the partner says `done`, waiting what its `Retry-After` asks (else a
 * second) and never past `--erasure-wait`. Still pending then: skipped, since the api goes on
 * asking until ERASURE_DEADLINE_DAYS. A 404 at the end means the status endpoint does not know
 * the erasure it accepted, so the api could never confirm it: failed.
 */
async function followAccepted(run: Verification): Promise<CheckRow> {
  const waitMs = run.input.erasureWaitSeconds * 1000;
  const started = performance.now();
  for (let polls = 1; ; polls++) {
    const answer = await askStatus(run, run.subject);
    const elapsed = performance.now() - started;
    const after = `after ${polls} poll(s) in ${seconds(elapsed)} s`;
    if (answer.state === "done") {
      const at = answer.completedAt === null ? "" : `, completedAt ${answer.completedAt}`;
      return pass(STATUS, `HTTP 200 {status: "done"${at}} ${after}`);
    }
    const retryAfter = answer.state === "pending" ? answer.retryAfterSeconds : null;
    const nextMs = Math.max(
      MIN_POLL_MS,
      retryAfter === null ? POLL_WITHOUT_RETRY_AFTER_MS : retryAfter * 1000,
    );
    if (elapsed + nextMs > waitMs) {
      const limit = `--erasure-wait ${run.input.erasureWaitSeconds}`;
      if (answer.state === "not_found")
        return fail(
          STATUS,
          `HTTP 404 for the erasure it accepted (202), ${after}: the api could never confirm it done`,
        );
      const asked = retryAfter === null ? "no Retry-After" : `Retry-After ${retryAfter} s`;
      return skip(
        STATUS,
        `still pending ${after} (${asked}; ${limit} reached): the api asks until ERASURE_DEADLINE_DAYS`,
      );
    }
    await Bun.sleep(nextMs);
  }
}

/**
 * After a 200 or 204 the erasure is done: the status endpoint may say `done`, or 404 (the
 * contract's "no erasure for this subject": none is pending). Pending contradicts the erasure.
 */
async function statusAfterDone(run: Verification, erased: EraseOutcome): Promise<CheckRow> {
  const answer = await askStatus(run, run.subject);
  if (answer.state === "pending")
    return fail(
      STATUS,
      `the erasure answered HTTP ${erased.httpStatus} (erased) but its status says pending`,
    );
  if (answer.state === "not_found")
    return pass(STATUS, `HTTP 404: nothing pending after the HTTP ${erased.httpStatus} erasure`);
  return pass(STATUS, `HTTP 200 {status: "done"} after the HTTP ${erased.httpStatus} erasure`);
}

/** A subject never erased: the contract's 404 with its error body `{ error, message }`. */
async function statusOfUnknown(run: Verification): Promise<CheckRow> {
  const unknown = subjectFor(`propgate-verify:${randomUUID()}`, run.input.settings.subjectKey);
  try {
    const answer = await askStatus(run, unknown);
    if (answer.state === "not_found") {
      return answer.errorCode === null
        ? fail(UNKNOWN, "HTTP 404 without the error body {error, message}")
        : pass(UNKNOWN, `HTTP 404 {error: "${answer.errorCode}"} for a subject never erased`);
    }
    return fail(
      UNKNOWN,
      `a subject never erased answered HTTP 200 {status: "${answer.state}"}; the contract says 404`,
    );
  } catch (error) {
    return fail(UNKNOWN, `a subject never erased: expected 404, got ${describeFailure(error)}`);
  }
}
