import { describe, expect, test } from "bun:test";
import { ConsentRequiredError } from "@propgate/consent-audit";
import { createInflightCalls } from "../src/partner-call/inflight.ts";

/** A call that runs until its signal aborts (or `finish` is called). */
function pendingCall() {
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const run = (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      void done.then(() => resolve("answered"));
    });
  return { run, finish };
}

describe("calls in flight", () => {
  test("a revocation aborts the resident's calls for that purpose only, with CONSENT_REQUIRED", async () => {
    const inflight = createInflightCalls();
    const video = pendingCall();
    const door = pendingCall();
    const watching = inflight.run("u1", "video", video.run);
    const opening = inflight.run("u1", "intercom", door.run);
    expect(inflight.abort("u1", "video")).toBe(1);
    expect(await watching.catch((error: unknown) => error)).toBeInstanceOf(ConsentRequiredError);
    door.finish();
    expect(await opening).toBe("answered");
    expect(inflight.abort("u1", "video")).toBe(0);
  });

  test("revoke → re-grant → a new call: the old call's end leaves the new one tracked, so the next revoke aborts it", async () => {
    const inflight = createInflightCalls();
    // An old call that ignores the abort for a while (its fetch has not noticed yet).
    let finishOld: () => void = () => {};
    const old = inflight.run(
      "u2",
      "intercom",
      () =>
        new Promise<string>((resolve) => {
          finishOld = () => resolve("late");
        }),
    );
    expect(inflight.abort("u2", "intercom")).toBe(1); // revoke
    // re-grant, then a new call for the same resident and purpose
    const fresh = pendingCall();
    const newer = inflight.run("u2", "intercom", fresh.run);
    finishOld(); // the old call ends now and releases its tracking
    await old.catch(() => {});
    // A second revoke must still find the new call in flight.
    expect(inflight.abort("u2", "intercom")).toBe(1);
    expect(await newer.catch((error: unknown) => error)).toBeInstanceOf(ConsentRequiredError);
  });

  test("idle() waits for every call in flight, and no longer than its bound", async () => {
    const inflight = createInflightCalls();
    await inflight.idle(10_000); // nothing in flight: at once
    const a = pendingCall();
    const b = pendingCall();
    const calls = [inflight.run("u3", "intercom", a.run), inflight.run("u4", "barrier", b.run)];
    let idle = false;
    const waiting = inflight.idle(10_000).then(() => {
      idle = true;
    });
    a.finish();
    await calls[0];
    expect(inflight.running).toBe(1);
    expect(idle).toBe(false);
    b.finish();
    await calls[1];
    await waiting;
    expect(idle).toBe(true);
    // A call that never ends holds idle() only for its bound.
    void inflight.run("u5", "intercom", pendingCall().run);
    const started = performance.now();
    await inflight.idle(50);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(inflight.running).toBe(1);
  });
});
