import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AuditEvent } from "@propgate/consent-audit";
import { HIGH_RATE_LIMITS, startTestStack, type TestStack } from "../src/testing/harness.ts";
import { SEED_START, seedAuditRows, seedRow } from "./audit-seed.ts";

/*
 * Invariant 5's admin roles at size (issue 13): the audit trail's pages and CSV export over
 * 100,000 seeded rows, read by a viewer and an operator.
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ env: { ...HIGH_RATE_LIMITS, ERASURE_INTERVAL_MS: "3600000" } });
});
afterAll(() => stack.close());

const as = async (sub: string, role?: "viewer" | "operator") =>
  stack.client(await stack.issuer.mint({ sub, sites: [], ...(role ? { role } : {}) }));

describe("the audit trail over 100,000 rows", () => {
  const SEEDED = 100_000;
  const START = SEED_START;

  beforeAll(() => seedAuditRows(stack, SEEDED, "seed/admin-roles"), 120_000);

  /** Every page under `filter` from the newest to the oldest and back: the same pages. */
  async function walk(filter: Record<string, string>, limit: number) {
    const viewer = await as("viewer-pages", "viewer");
    const forward: AuditEvent[][] = [];
    let page = await viewer.admin.audit.list.query({ ...filter, limit });
    forward.push(page.rows);
    while (page.nextCursor) {
      page = await viewer.admin.audit.list.query({ ...filter, limit, cursor: page.nextCursor });
      forward.push(page.rows);
    }
    const back: AuditEvent[][] = [page.rows];
    while (page.prevCursor) {
      page = await viewer.admin.audit.list.query({ ...filter, limit, cursor: page.prevCursor });
      back.unshift(page.rows);
    }
    const ids = (pages: AuditEvent[][]) => pages.map((rows) => rows.map((row) => row.id));
    expect(ids(back)).toEqual(ids(forward));
    const rows = forward.flat();
    expect(new Set(rows.map((row) => row.seq)).size).toBe(rows.length);
    expect(rows.map((row) => row.seq)).toEqual(rows.map((row) => row.seq).sort((a, b) => b - a));
    return rows;
  }

  test("pages forward and back without gaps or repeats, under every filter", async () => {
    const viewer = await as("viewer-pages", "viewer");
    // Unfiltered: ten pages down from the newest, then back up.
    const down: AuditEvent[][] = [];
    let page = await viewer.admin.audit.list.query({ limit: 500 });
    down.push(page.rows);
    for (let i = 0; i < 9 && page.nextCursor; i++) {
      page = await viewer.admin.audit.list.query({ limit: 500, cursor: page.nextCursor });
      down.push(page.rows);
    }
    const up: AuditEvent[][] = [page.rows];
    while (page.prevCursor) {
      page = await viewer.admin.audit.list.query({ limit: 500, cursor: page.prevCursor });
      up.unshift(page.rows);
    }
    expect(up.map((rows) => rows.map((row) => row.seq))).toEqual(
      down.map((rows) => rows.map((row) => row.seq)),
    );
    const seqs = down.flat().map((row) => row.seq);
    expect(seqs).toHaveLength(5000);
    expect(new Set(seqs).size).toBe(5000);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));

    const expected = (keep: (i: number) => boolean) =>
      Array.from({ length: SEEDED }, (_, i) => i)
        .filter(keep)
        .map((i) => seedRow(i).id)
        .reverse();
    const seededIds = (rows: AuditEvent[]) =>
      rows.filter((row) => row.sourceApp === "seed").map((row) => row.id);
    expect(seededIds(await walk({ userId: "seed-user-7" }, 37))).toEqual(
      expected((i) => i % 500 === 7),
    );
    expect(seededIds(await walk({ target: "door-seed-3" }, 100))).toEqual(
      expected((i) => i % 200 === 3),
    );
    expect(seededIds(await walk({ result: "denied", kind: "access.denied" }, 500))).toEqual(
      expected((i) => i % 50 === 0),
    );
    const window = {
      from: new Date(START + 40_000_000).toISOString(),
      to: new Date(START + 40_600_000).toISOString(),
    };
    expect(seededIds(await walk({ ...window, partner: "barrier" }, 99))).toEqual(
      expected((i) => i >= 40_000 && i < 40_600 && i % 2 === 0),
    );
    expect(
      seededIds(await walk({ ...window, operation: "intercom.open", userId: "seed-user-1" }, 5)),
    ).toEqual(expected((i) => i >= 40_000 && i < 40_600 && i % 500 === 1));
    // A range reaching the newest rows, 90,000 of them: walked down seq, not read whole (the
    // narrow window above is read through the index on `at`); the same rows either way.
    expect(
      seededIds(
        await walk(
          { from: new Date(START + 10_000_000).toISOString(), target: "door-seed-3" },
          100,
        ),
      ),
    ).toEqual(expected((i) => i >= 10_000 && i % 200 === 3));
    expect(await viewer.admin.audit.verify.query()).toMatchObject({ ok: true });
  }, 120_000);

  test("exports the filtered rows as CSV, every field quoted, quotes doubled (RFC 4180)", async () => {
    const operator = await as("operator-csv", "operator");
    const reason = 'moved, "as agreed"\nby phone';
    await operator.admin.devices.upsert.mutate({
      devices: [
        {
          id: "door-csv",
          kind: "door",
          siteId: "site-csv",
          partner: "barrier",
          partnerDeviceId: "br-csv",
          name: "CSV door",
        },
      ],
      reason,
    });
    const viewer = await as("viewer-csv", "viewer");
    const exported = await viewer.admin.audit.export.query({ target: "door-csv" });
    expect({ rows: exported.rows, truncated: exported.truncated }).toEqual({
      rows: 1,
      truncated: false,
    });
    const [header, line, end, ...rest] = exported.csv.split("\r\n");
    expect(rest).toEqual([]);
    expect(end).toBe("");
    expect(header?.split(",")).toHaveLength(26);
    expect(header?.split(",")).toContain('"trace_id"');
    expect(header?.split(",")[22]).toBe('"reason"');
    expect(line).toContain(',"moved, ""as agreed""\nby phone",');
    expect(line).toContain(',"admin.devices.upsert",');
    expect(line).toContain(',"operator-csv",');

    const seeded = await viewer.admin.audit.export.query({
      userId: "seed-user-9",
      partner: "intercom",
    });
    expect({ rows: seeded.rows, truncated: seeded.truncated }).toEqual({
      rows: SEEDED / 500,
      truncated: false,
    });
  });
});
