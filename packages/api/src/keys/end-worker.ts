import {
  type AuditContext,
  claimDueKeyEnds,
  countEndingKeys,
  endExpiredKeys,
  requestEndOfMovedDeviceKeys,
} from "@propgate/consent-audit";
import type { Metrics } from "@propgate/observability";
import { type PeriodicPass, type RetryBackoff, startPeriodicPass } from "../outbox-pass.ts";
import { endKeyAtPartner, type KeyEndServices } from "./end-at-partner.ts";

/** What the end queue uses: ending at the partner's, and the gauge of keys being ended. */
export interface KeyEndWorkerServices extends KeyEndServices {
  metrics: Pick<Metrics, "guestKeyEnds" | "guestKeysEnding">;
}

export interface KeyEndWorkerOptions extends RetryBackoff {
  /** Names this instance on the audit rows of the `DELETE`s. */
  instanceId: string;
  /** How often the queue is looked at (a revocation of `guests` on the consent bus wakes it). */
  intervalMs: number;
  /** Keys ended per pass. */
  batch: number;
}

/** `runOnce` runs one pass now (tests, and a revocation). */
export type KeyEndWorker = PeriodicPass;

/**
 * Ends guest keys at the partner that must no longer open doors: queued `ending` by their cause
 * in its own transaction (the resident's revoke, a revocation of `guests`, a block, a site gone
 * from the token) or found here on every pass (a door that left the registry or moved site).
 * Keys past their validity end without a call: the partner stops the code itself. Rows are
 * leased, so instances share the queue; a failed `DELETE` is retried with back-off until the
 * partner confirms, so a partner that is down at the cause is caught up with.
 */
export function startKeyEndWorker(
  services: KeyEndWorkerServices,
  options: KeyEndWorkerOptions,
): KeyEndWorker {
  const { db } = services.database;
  const audit: AuditContext = {
    sourceApp: "api",
    instanceId: options.instanceId,
    actor: "key-end-worker",
  };
  async function pass(): Promise<number> {
    await requestEndOfMovedDeviceKeys(db);
    await endExpiredKeys(db);
    const due = await claimDueKeyEnds(db, { limit: options.batch, leaseSeconds: 30 });
    await Promise.all(due.map((key) => endKeyAtPartner(services, key, audit, options)));
    services.metrics.guestKeysEnding.set(await countEndingKeys(db));
    return due.length;
  }

  // A revocation's wake-up during a pass must not wait for the next tick.
  return startPeriodicPass(
    pass,
    options.intervalMs,
    (error) => services.logger.error({ err: error }, "guest key end pass failed"),
    true,
  );
}
