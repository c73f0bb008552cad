import { errorOf, grant, type Instance, type TestStack } from "../src/testing/harness.ts";

export interface RevocationResult {
  /** Sequential door opens through B, ms. */
  baseline: number[];
  /** Revoke returned on A → first CONSENT_REQUIRED on B for a request started after it, ms. */
  revokeToReject: number[];
  /** Rounds where B never rejected within the bound. */
  timedOut: number;
}

const ROUND_BOUND_MS = 5000;

/**
 * How fast a revocation on instance A (the stack's) stops instance B: two workers keep opening
 * through B, A revokes, the clock stops at B's first refusal of a request started after the
 * revoke returned. The baseline is a plain door open through B.
 */
export async function measureRevocation(
  stack: TestStack,
  b: Instance,
  options: { rounds: number; baselineOpens: number },
): Promise<RevocationResult> {
  const warm = await stack.resident("bench-baseline");
  await grant(warm, ["intercom"]);
  const baselineClient = b.client(warm.token);
  const baseline: number[] = [];
  for (let i = 0; i < options.baselineOpens; i++) {
    const started = performance.now();
    await baselineClient.intercom.openDoor.mutate({ deviceId: "door-a1" });
    baseline.push(performance.now() - started);
  }

  const revokeToReject: number[] = [];
  let timedOut = 0;
  for (let round = 0; round < options.rounds; round++) {
    const resident = await stack.resident(`bench-revoke-${round}`);
    await grant(resident, ["intercom"]);
    const throughB = b.client(resident.token);
    let revokedAt = Number.POSITIVE_INFINITY;
    let firstReject = Number.POSITIVE_INFINITY;
    let running = true;
    const stopAt = performance.now() + ROUND_BOUND_MS;
    const workers = Array.from({ length: 2 }, async () => {
      while (running && performance.now() < stopAt) {
        const started = performance.now();
        const error = await throughB.intercom.openDoor.mutate({ deviceId: "door-a1" }).then(
          () => null,
          (failure) => errorOf(Promise.reject(failure)),
        );
        if (error?.cause === "CONSENT_REQUIRED" && started >= revokedAt) {
          firstReject = Math.min(firstReject, performance.now());
          running = false;
        }
      }
    });
    await Bun.sleep(50); // let the load run before revoking
    await resident.trpc.consent.revoke.mutate({ purpose: "intercom" });
    revokedAt = performance.now();
    await Promise.all(workers);
    if (Number.isFinite(firstReject)) revokeToReject.push(firstReject - revokedAt);
    else timedOut++;
  }
  return { baseline, revokeToReject, timedOut };
}
