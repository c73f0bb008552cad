import { describe, expect, test } from "bun:test";
import { judgeChainEnds } from "../src/audit-chain-ends";

const AT = new Date("2026-12-07T04:00:00.000Z");
const anHourOn = new Date(AT.getTime() + 3_600_000);
const checkpoint = (closing: boolean, signature: string) => ({
  chainId: "vm/1/w0.1",
  chainSeq: 1,
  at: AT,
  closing,
  intervalMs: 60_000,
  heartbeatMs: 300_000,
  signature,
});

describe("the end of a chain", () => {
  // A writer's last heartbeat and its close can be signed in the same millisecond.
  test("a closing checkpoint at the same seq and time as another ends the chain, in either order", () => {
    const ends = [{ chainId: "vm/1/w0.1", lastSeq: 1 }];
    const heartbeat = checkpoint(false, "a");
    const closing = checkpoint(true, "b");
    for (const order of [
      [heartbeat, closing],
      [closing, heartbeat],
    ])
      expect(judgeChainEnds(ends, order, { now: anHourOn })).toEqual({ faults: [], notes: [] });
  });

  test("without the closing one, the same chain an hour on is a crash or a cut", () => {
    const verdict = judgeChainEnds(
      [{ chainId: "vm/1/w0.1", lastSeq: 1 }],
      [checkpoint(false, "a")],
      {
        now: anHourOn,
      },
    );
    expect(verdict.faults).toEqual([
      "chain vm/1/w0.1 ended without a closing checkpoint: a crash or a cut (its newest checkpoint: seq 1, signed 2026-12-07T04:00:00.000Z, 60 min ago)",
    ]);
  });
});
