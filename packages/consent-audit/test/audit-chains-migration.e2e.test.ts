import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { wrapPglite } from "../src/database";
import {
  auditChainId,
  auditRowHash,
  GENESIS_HASH,
  LEGACY_CHAIN,
  migrationsFolder,
  recordAuditEvent,
  verifyAuditChain,
} from "../src/index";
import * as schema from "../src/schema/index";
import { APP_AUDIT } from "./fixtures";

const dir = mkdtempSync(join(tmpdir(), "propgate-chains-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The committed migrations up to (not including) the one that made chains per writer. */
function migrationsBeforeChains(): string {
  const folder = join(dir, "before");
  cpSync(migrationsFolder, folder, { recursive: true });
  const journalFile = join(folder, "meta/_journal.json");
  const journal = JSON.parse(readFileSync(journalFile, "utf8")) as { entries: { tag: string }[] };
  const cut = journal.entries.findIndex((entry) => entry.tag === "0007_audit_chains");
  expect(cut).toBeGreaterThan(0);
  journal.entries = journal.entries.slice(0, cut);
  writeFileSync(journalFile, JSON.stringify(journal));
  return folder;
}

describe("the migration to one chain per writer", () => {
  test("rows of the single chain verify as the legacy chain; new rows start their own", async () => {
    const pglite = new PGlite();
    const db = drizzle({ client: pglite, schema, casing: "snake_case" });
    await migrate(db, { migrationsFolder: migrationsBeforeChains() });
    // Three rows as the old writer made them: seq 1, 2, 3 linked from the all-zero genesis.
    let prev = GENESIS_HASH;
    for (const seq of [1, 2, 3]) {
      const content = {
        chainSeq: seq,
        id: `evt_legacy${seq}`,
        at: new Date(`2026-11-0${seq}T10:00:00.000Z`),
        kind: "partner.event",
        sourceApp: "api",
        instanceId: "api-old",
        clientIp: null,
        requestId: null,
        userId: null,
        actor: null,
        operation: null,
        partner: null,
        purpose: null,
        target: null,
        attempt: null,
        result: "ok",
        errorCode: null,
        httpStatus: null,
        latencyMs: null,
        callId: null,
      };
      const hash = auditRowHash(prev, content);
      await pglite.query(
        `insert into audit_events (seq, id, at, kind, source_app, instance_id, result, prev_hash, hash)
         values ($1, $2, $3, 'partner.event', 'api', 'api-old', 'ok', $4, $5)`,
        [seq, content.id, content.at.toISOString(), prev, hash],
      );
      prev = hash;
    }
    await migrate(db, { migrationsFolder });

    const handle = await wrapPglite(pglite); // as the api opens it
    expect(await verifyAuditChain(handle.db)).toEqual({ ok: true, count: 3 });
    const next = await recordAuditEvent(db, { ...APP_AUDIT, kind: "partner.event", result: "ok" });
    expect(next).toMatchObject({ chainId: auditChainId(), chainSeq: 1, seq: 4 });
    expect(await verifyAuditChain(handle.db)).toEqual({ ok: true, count: 4 });
    const legacy = await pglite.query<{ n: number }>(
      "select count(*)::int as n from audit_events where chain_id = $1",
      [LEGACY_CHAIN],
    );
    expect(legacy.rows[0]?.n).toBe(3);
    await pglite.close();
  });
});
