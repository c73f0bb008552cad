import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { PURPOSES } from "@propgate/domain";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { listConsents, recordAuditEvent } from "../src/index";
import { createTestDatabase } from "../src/testing";
import { APP_AUDIT, grant, newUserId, rowsOf, waitFor } from "./fixtures";

/*
 * `createTestDatabase` on PostgreSQL hands a closed database, emptied, to the process's next
 * test instead of copying the template again, and drops every database of a process once it
 * ends. What a test sees must not change: a database as the migrations leave it, nothing of the
 * test before, and nothing left behind on a server other people use.
 */

setDefaultTimeout(30_000);

const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.log("[skip] test databases' reuse: need PostgreSQL (set DATABASE_URL)");
}

async function databaseNames(like: string): Promise<string[]> {
  const admin = postgres(adminUrl ?? "", { max: 1, onnotice: () => {} });
  try {
    const rows = await admin<{ datname: string }[]>`
      select datname from pg_database where datname like ${like} order by datname`;
    return rows.map((row) => row.datname);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

const nameOf = (url: string | undefined) => new URL(url ?? "").pathname.slice(1);

describe.if(adminUrl !== undefined)("test databases on PostgreSQL", () => {
  test("a closed database comes back to the next test as the migrations left it", async () => {
    const used = await createTestDatabase();
    const userId = newUserId();
    await grant(used.db, userId, "intercom");
    await recordAuditEvent(used.db, { ...APP_AUDIT, kind: "partner.event", result: "ok" });
    await used.close();

    const next = await createTestDatabase();
    try {
      expect(nameOf(next.url)).toBe(nameOf(used.url));
      const states = await listConsents(next.db, userId);
      expect(states.map((consent) => consent.state)).toEqual(states.map(() => "none"));
      const counts = rowsOf(
        await next.db.execute(sql`select
          (select count(*)::int from audit_events) as audit,
          (select count(*)::int from consent_events) as consents,
          (select count(*)::int from notices) as notices`),
      );
      // The migrations seed notice v1 of each purpose.
      expect(counts).toEqual([{ audit: 0, consents: 0, notices: PURPOSES.length }]);
      // Sequences start again: the first row is numbered as in a fresh copy.
      const first = await recordAuditEvent(next.db, {
        ...APP_AUDIT,
        kind: "partner.event",
        result: "ok",
      });
      expect(first.seq).toBe(1);
    } finally {
      await next.close();
    }
  });

  test("a database whose schema or grants a test changed is dropped, not handed on", async () => {
    for (const change of [
      "create table left_behind (id int)",
      "alter table devices add column extra text",
      "grant select on audit_events to public",
      "create index devices_extra on devices (id)",
    ]) {
      const changed = await createTestDatabase();
      await changed.db.execute(sql.raw(change));
      await changed.close();
      expect(await databaseNames(nameOf(changed.url))).toEqual([]);
      const next = await createTestDatabase();
      expect(nameOf(next.url)).not.toBe(nameOf(changed.url));
      await next.close();
    }
  });

  test("a database a test wrote many rows to is dropped, not handed on with its dead rows", async () => {
    const busy = await createTestDatabase();
    await busy.db.execute(
      sql`insert into vpn_events (at, iface, peer_fingerprint, kind, rx_bytes, tx_bytes)
          select now(), 'wg0', 'peer', 'connected', 0, 0 from generate_series(1, 2500)`,
    );
    await busy.close();
    expect(await databaseNames(nameOf(busy.url))).toEqual([]);
  });

  test("a process's databases are dropped when it ends, even without closing them", async () => {
    const script = `
      import { createTestDatabase } from ${JSON.stringify(new URL("../src/testing.ts", import.meta.url).pathname)};
      const kept = await createTestDatabase();
      const spare = await createTestDatabase();
      await spare.close();
      console.log(new URL(kept.url).pathname.slice(1));
      process.exit(0);
    `;
    const child = Bun.spawn([process.execPath, "-e", script], {
      env: { ...process.env },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, out, err] = await Promise.all([
      child.exited,
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    expect({ code, err: err.trim() }).toEqual({ code: 0, err: "" });
    const kept = out.trim().split("\n").at(-1) ?? "";
    const tag = kept.split("_")[2];
    expect(kept).toMatch(/^propgate_t_[0-9a-f]{8}_[0-9a-f]{8}$/);
    await waitFor(
      `the databases of tag ${tag} dropped`,
      async () => (await databaseNames(`propgate\\_t\\_${tag}\\_%`)).length === 0,
      15_000,
    );
  });
});
