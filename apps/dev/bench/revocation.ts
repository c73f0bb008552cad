import { errorOf, HIGH_RATE_LIMITS, startInstance, startTestStack } from "../test/harness.ts";

/**
 * `bun run bench`: how fast a revocation on instance A stops instance B, against a baseline
 * measured in the same run (a plain door open through B). Figures are reported as ratios too,
 * since the machines here are shared and noisy. Uses DATABASE_URL when set, else PGlite.
 */
const ROUNDS = Number(process.argv[2] ?? 30);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

const stack = await startTestStack({ logLevel: "warn", env: HIGH_RATE_LIMITS });
const b = await startInstance(stack, "bench-b");
try {
  // baseline: door opens through B
  const warm = await stack.resident("bench-baseline");
  await warm.trpc.consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });
  const baselineClient = b.client(warm.token);
  const baseline: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    await baselineClient.intercom.openDoor.mutate({ deviceId: "door-a1" });
    baseline.push(performance.now() - started);
  }

  const revokeToReject: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const resident = await stack.resident(`bench-revoke-${round}`);
    await resident.trpc.consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });
    const throughB = b.client(resident.token);
    let revokedAt = Number.POSITIVE_INFINITY;
    let firstReject = Number.POSITIVE_INFINITY;
    let running = true;
    const workers = Array.from({ length: 2 }, async () => {
      while (running) {
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
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the load run before revoking
    await resident.trpc.consent.revoke.mutate({ purpose: "intercom" });
    revokedAt = performance.now();
    await Promise.all(workers);
    revokeToReject.push(firstReject - revokedAt);
  }

  const base50 = percentile(baseline, 50);
  const row = (name: string, values: number[]) =>
    `| ${name} | ${values.length} | ${percentile(values, 50).toFixed(1)} | ${percentile(values, 99).toFixed(1)} | ${(percentile(values, 50) / base50).toFixed(2)}× |`;
  console.log(`
Propgate bench — ${stack.testDatabase.label ?? "database"}, ${new Date().toISOString()}

| measure | n | p50 ms | p99 ms | p50 vs baseline p50 |
|---|---|---|---|---|
${row("baseline: door open through B", baseline)}
${row("revoke on A → first CONSENT_REQUIRED on B", revokeToReject)}

Goal: revoke-to-reject p99 < 50 ms → ${percentile(revokeToReject, 99) < 50 ? "met" : "NOT met"}.
`);
} finally {
  await b.stop();
  await stack.close();
}
