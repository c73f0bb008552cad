import { describe, expect, test } from "bun:test";
import { createAdminReadLimits } from "../src/admin/read-limits.ts";
import { RateLimitedError, toTRPCError } from "../src/errors.ts";

/** A run that ends when the test says so. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

function refusalOf(run: () => Promise<unknown>): Promise<RateLimitedError> {
  return run().then(
    () => {
      throw new Error("expected a refusal");
    },
    (error: unknown) => {
      if (!(error instanceof RateLimitedError)) throw error;
      return error;
    },
  );
}

describe("one audit verify and one export at a time per instance (invariant 8)", () => {
  test("a second one while the first runs is refused at once, RATE_LIMITED with a Retry-After", async () => {
    let clock = 0;
    const limits = createAdminReadLimits({
      readStatementTimeoutMs: 10_000,
      auditStatementTimeoutMs: 60_000,
      now: () => clock,
    });
    const first = gate();
    const running = limits.exclusive("verify", () => first.opened.then(() => "verified"));
    // No run has finished yet: the page's client is told 5 s (it waits that long once).
    const refused = await refusalOf(() => limits.exclusive("verify", async () => "again"));
    expect(refused.retryAfterSeconds).toBe(5);
    expect(refused.message).toBe(
      "an audit verify is already running on this instance; try again in 5 s",
    );
    const cause = toTRPCError(refused);
    expect(cause.code).toBe("TOO_MANY_REQUESTS");
    // The other kind is a slot of its own.
    expect(await limits.exclusive("export", async () => "exported")).toBe("exported");
    clock = 12_000;
    first.open();
    expect(await running).toBe("verified");

    // The last run took 12 s: 3 s into the next one, about 9 s are left.
    const second = gate();
    const again = limits.exclusive("verify", () => second.opened);
    clock = 15_000;
    expect(
      (await refusalOf(() => limits.exclusive("verify", async () => 0))).retryAfterSeconds,
    ).toBe(9);
    // Past the last run's time: at least 1 s.
    clock = 40_000;
    expect(
      (await refusalOf(() => limits.exclusive("verify", async () => 0))).retryAfterSeconds,
    ).toBe(1);
    second.open();
    await again;
  });

  test("a run that fails frees the slot; Retry-After never exceeds the statement timeout", async () => {
    let clock = 0;
    const limits = createAdminReadLimits({
      readStatementTimeoutMs: 1000,
      auditStatementTimeoutMs: 3000,
      now: () => clock,
    });
    const failing = limits.exclusive("export", async () => {
      clock += 100_000;
      throw new Error("statement timeout");
    });
    await expect(failing).rejects.toThrow("statement timeout");
    const slow = gate();
    const running = limits.exclusive("export", () => slow.opened);
    expect(
      (await refusalOf(() => limits.exclusive("export", async () => 0))).retryAfterSeconds,
    ).toBe(3);
    slow.open();
    await running;
    expect(await limits.exclusive("export", async () => "free")).toBe("free");
  });
});
