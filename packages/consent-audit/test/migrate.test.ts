import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { sql } from "drizzle-orm";
import {
  checkReadiness,
  listCurrentNotices,
  migrateDatabase,
  migrationsFolder,
  PURPOSES,
} from "../src/index";
import { createTestDatabase } from "../src/testing";
import { databasesPerTest } from "./fixtures";

// A first PGlite in a process runs initdb (seconds); PostgreSQL creates a database per test.
setDefaultTimeout(30_000);

const fresh = databasesPerTest();

describe("migrateDatabase", () => {
  test("is idempotent: a second run applies nothing and the database stays ready", async () => {
    const handle = await fresh();
    await migrateDatabase(handle);
    await migrateDatabase(handle);
    const rows = await handle.db.execute(
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    const n = Array.isArray(rows) ? rows[0]?.n : (rows as { rows: { n: number }[] }).rows[0]?.n;
    const journal = (await Bun.file(
      new URL("../drizzle/meta/_journal.json", import.meta.url),
    ).json()) as {
      entries: unknown[];
    };
    expect(n).toBe(journal.entries.length);
    expect(await checkReadiness(handle)).toEqual({ ok: true });
  });

  test("concurrent runs (two instances starting at once) both succeed", async () => {
    const handle = await fresh({ migrate: false });
    await Promise.all([migrateDatabase(handle), migrateDatabase(handle)]);
    expect(await checkReadiness(handle)).toEqual({ ok: true });
  });

  test("seeds notice v1 for every purpose, with the sha256 of its text", async () => {
    const handle = await fresh();
    const notices = await listCurrentNotices(handle.db);
    expect(notices.map((n) => n.purpose).sort()).toEqual([...PURPOSES].sort());
    for (const notice of notices) {
      expect(notice.version).toBe(1);
      expect(notice.text).toContain("PropDevelopment");
      expect(notice.text).toMatch(/[а-я]/);
      expect(notice.textSha256).toBe(
        new Bun.CryptoHasher("sha256").update(notice.text).digest("hex"),
      );
    }
  });
});

describe("checkReadiness", () => {
  test("is not ok on an empty database and ok once migrated", async () => {
    const handle = await fresh({ migrate: false });
    const before = await checkReadiness(handle);
    expect(before.ok).toBe(false);
    if (!before.ok) expect(before.reason).toContain("migrations not applied");
    await migrateDatabase(handle);
    expect(await checkReadiness(handle)).toEqual({ ok: true });
  });

  test("is not ok when a committed migration is missing from the database", async () => {
    const handle = await fresh();
    await handle.db.execute(
      sql`delete from drizzle.__drizzle_migrations where id = (select max(id) from drizzle.__drizzle_migrations)`,
    );
    const result = await checkReadiness(handle);
    expect(result.ok).toBe(false);
    const journal = (await Bun.file(`${migrationsFolder}/meta/_journal.json`).json()) as {
      entries: Array<{ tag: string }>;
    };
    if (!result.ok) expect(result.reason).toContain(journal.entries.at(-1)?.tag ?? "?");
  });

  test("is not ok when the database is unreachable", async () => {
    const handle = await createTestDatabase(); // closed here, not after the test
    await handle.close();
    const result = await checkReadiness(handle);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain("database unreachable");
  });
});
