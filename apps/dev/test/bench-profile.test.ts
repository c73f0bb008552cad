import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { CONCERNS, topFrames } from "../bench/profile.ts";

/**
 * The bench's profile by concern (`bench/profile.ts`): a sample counts for the nearest
 * JavaScript frame that says what the work was for, so BENCHMARKS.md's table sets Propgate's
 * concerns beside the floor's by one rule.
 */

const REPO = resolve(import.meta.dir, "../../..");
const dir = mkdtempSync(join(os.tmpdir(), "bench-profile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Frame = { name: string; url: string };
const repoFile = (path: string) => `file://${REPO}/${path}`;
const inPackage = (path: string) => `${REPO}/node_modules/.bun/x/node_modules/${path}`;
const native = (name: string): Frame => ({ name, url: "" });

/** A `.cpuprofile` with one sample per stack (outermost frame first). */
function profileOf(stacks: Frame[][]): string {
  const nodes = [
    {
      id: 1,
      callFrame: { functionName: "(root)", url: "", lineNumber: -1 },
      children: [] as number[],
    },
  ];
  const samples: number[] = [];
  for (const stack of stacks) {
    let parent = nodes[0];
    for (const frame of stack) {
      const node = {
        id: nodes.length + 1,
        callFrame: { functionName: frame.name, url: frame.url, lineNumber: 1 },
        children: [] as number[],
      };
      nodes.push(node);
      parent?.children.push(node.id);
      parent = node;
    }
    samples.push(parent?.id ?? 1);
  }
  const file = join(dir, `${samples.length}-${nodes.length}.cpuprofile`);
  writeFileSync(
    file,
    JSON.stringify({
      nodes,
      startTime: 0,
      endTime: samples.length * 1000,
      samples,
      timeDeltas: samples.map(() => 1000),
    }),
  );
  return file;
}

const concernsOf = (stacks: Frame[][]) =>
  Object.fromEntries(
    topFrames(profileOf(stacks))
      .concerns.filter((entry) => entry.samples > 0)
      .map((entry) => [entry.concern, entry.samples]),
  );

const app: Frame = { name: "route", url: repoFile("packages/server/src/app.ts") };
const trpc: Frame = { name: "resolveResponse", url: inPackage("@trpc/server/dist/x.mjs") };
const attempt: Frame = {
  name: "exchange",
  url: repoFile("packages/partner-client/src/attempt.ts"),
};
const zod: Frame = { name: "runChecks", url: inPackage("zod/v4/core/schemas.js") };

describe("the bench's profile by concern", () => {
  test("each concern is listed, in order, zero or not", () => {
    const summary = topFrames(profileOf([[native("(program)")]]));
    expect(summary.concerns.map((entry) => entry.concern)).toEqual([...CONCERNS]);
    expect(summary.concerns.reduce((sum, entry) => sum + entry.samples, 0)).toBe(1);
  });

  test("tRPC under our Hono route is the framework; our file under tRPC is ours", () => {
    expect(
      concernsOf([
        [app, trpc, native("Headers")],
        [app, trpc, { name: "residentScope", url: repoFile("packages/api/src/trpc.ts") }],
      ]),
    ).toEqual({
      "HTTP framework: Hono, tRPC, zod": 1,
      "request middleware: ids, headers, Server-Timing": 1,
    });
  });

  test("Bun's native fetch is the partner request; the client's own frames are the client's", () => {
    expect(
      concernsOf([
        [app, attempt, native("fetch")],
        [app, attempt, native("arrayBuffer")],
      ]),
    ).toEqual({
      "partner request: Bun's fetch": 1,
      "partner client: contract, retries, answer check": 1,
    });
  });

  test("a package with a concern of its own counts for it, whoever called it", () => {
    const histogram: Frame = { name: "observe", url: inPackage("prom-client/lib/histogram.js") };
    const driver: Frame = { name: "write", url: inPackage("postgres/src/connection.js") };
    expect(
      concernsOf([
        [app, histogram],
        [attempt, histogram, native("hashObject")],
        [{ name: "write", url: repoFile("packages/consent-audit/src/audit-writer.ts") }, driver],
        [driver, { name: "_write", url: "node:net" }, native("writeBuffered")],
      ]),
    ).toEqual({ "metrics (prom-client)": 2, "database driver (postgres.js)": 2 });
  });

  test("zod counts for its caller: tRPC's input check, the partner answer's check", () => {
    expect(
      concernsOf([
        [app, trpc, zod],
        [app, attempt, zod],
      ]),
    ).toEqual({
      "HTTP framework: Hono, tRPC, zod": 1,
      "partner client: contract, retries, answer check": 1,
    });
  });

  test("a sample with no JavaScript frame is the event loop; the floor's file is the floor's", () => {
    expect(
      concernsOf([
        [native("(program)")],
        [{ name: "forward", url: repoFile("apps/dev/bench/audited-floor.ts") }],
        [{ name: "decide", url: repoFile("packages/consent-audit/src/audit-writer.ts") }],
      ]),
    ).toEqual({
      "event loop, I/O, GC": 1,
      "the floor's own code": 1,
      "audit rows: chain, hashes, group commit": 1,
    });
  });
});
