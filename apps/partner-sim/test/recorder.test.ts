import { describe, expect, test } from "bun:test";
import { createRecorder } from "../src/recorder.ts";

const base = { at: new Date(0).toISOString(), method: "GET", path: "/v1/health" } as const;

describe("recorder", () => {
  test("waitFor resolves on a record that arrives later", async () => {
    const recorder = createRecorder();
    const waiting = recorder.waitFor((r) => r.status === 503, 1000);
    recorder.add({ ...base, operation: "health", status: 200 });
    recorder.add({ ...base, operation: "health", status: 503 });
    expect((await waiting).seq).toBe(2);
  });

  test("waitFor finds a record already held, and times out otherwise", async () => {
    const recorder = createRecorder();
    recorder.add({ ...base, operation: "health", status: 200 });
    expect((await recorder.waitFor((r) => r.status === 200, 10)).seq).toBe(1);
    await expect(recorder.waitFor((r) => r.status === 418, 20)).rejects.toThrow("20 ms");
  });

  test("filters by fields or predicate; keeps about the last N", () => {
    const recorder = createRecorder(10);
    for (let i = 0; i < 25; i++) {
      recorder.add({ ...base, operation: "health", status: i % 2 === 0 ? 200 : 500 });
    }
    const held = recorder.all();
    expect(held.length).toBeGreaterThanOrEqual(10);
    expect(held.length).toBeLessThanOrEqual(11);
    expect(held.at(-1)?.seq).toBe(25);
    expect(recorder.count({ status: 500 })).toBe(held.filter((r) => r.status === 500).length);
    expect(recorder.count((r) => r.seq > 20)).toBe(5);
    recorder.clear();
    expect(recorder.count()).toBe(0);
  });
});
