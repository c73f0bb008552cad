import {
  afterAll,
  afterEach,
  beforeAll,
  describe,
  expect,
  setDefaultTimeout,
  test,
} from "bun:test";
import { sql } from "drizzle-orm";
import {
  CONSENT_CHANNEL,
  type ConsentBus,
  type ConsentChange,
  createConsentBus,
  type DatabaseHandle,
  openDatabase,
  revokeConsent,
} from "../src/index";
import { createTestDatabase, type TestDatabase } from "../src/testing";
import { APP_AUDIT, grant, Inbox, newUserId, revokeInput, rowsOf } from "./fixtures";

setDefaultTimeout(60_000);

const onPostgres = process.env.DATABASE_URL !== undefined;

const buses: ConsentBus[] = [];
const extraHandles: DatabaseHandle[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
  // Newest first: instance B ends before A's database is dropped under it.
  for (const h of extraHandles.splice(0).reverse()) await h.close();
});

/** A bus whose changes, reconnects and errors land in inboxes. */
async function listenOn(handle: DatabaseHandle) {
  const changes = new Inbox<ConsentChange>();
  const reconnects = new Inbox<number>();
  const errors = new Inbox<unknown>();
  let reconnectCount = 0;
  const bus = await createConsentBus(handle, {
    onChange: changes.push,
    onReconnect: () => reconnects.push(++reconnectCount),
    onError: errors.push,
  });
  buses.push(bus);
  return { bus, changes, reconnects, errors };
}

const forUser = (userId: string, state: ConsentChange["state"]) => (change: ConsentChange) =>
  change.userId === userId && change.state === state;

describe("consent bus on one database handle", () => {
  let handle: TestDatabase;
  beforeAll(async () => {
    handle = await createTestDatabase();
  });
  afterAll(async () => {
    await handle.close();
  });

  test("grant and revoke are announced once committed", async () => {
    const { changes, errors } = await listenOn(handle);
    const userId = newUserId();
    await grant(handle.db, userId, "faces");
    expect(await changes.take("grant", forUser(userId, "granted"))).toEqual({
      userId,
      purpose: "faces",
      state: "granted",
    });
    await revokeConsent(handle.db, revokeInput(userId, "faces"), APP_AUDIT);
    expect(await changes.take("revoke", forUser(userId, "revoked"))).toEqual({
      userId,
      purpose: "faces",
      state: "revoked",
    });
    // A no-op revoke changes nothing and announces nothing; the next change proves delivery order.
    await revokeConsent(handle.db, revokeInput(userId, "faces"), APP_AUDIT);
    await grant(handle.db, userId, "video");
    await changes.take("the next grant", (c) => c.userId === userId && c.purpose === "video");
    expect(changes.items.filter((c) => c.userId === userId).map((c) => c.state)).toEqual([
      "granted",
      "revoked",
      "granted",
    ]);
    expect(errors.items).toEqual([]);
  });

  test("a rolled-back revoke is never announced", async () => {
    const { changes } = await listenOn(handle);
    const userId = newUserId();
    const marker = newUserId();
    await grant(handle.db, userId, "intercom");
    await changes.take("grant", forUser(userId, "granted"));
    const rollback = new Error("caller rolls back");
    await expect(
      handle.db.transaction(async (tx) => {
        await revokeConsent(tx, revokeInput(userId, "intercom"), APP_AUDIT);
        throw rollback;
      }),
    ).rejects.toBe(rollback);
    await grant(handle.db, marker, "intercom");
    await changes.take("the marker grant", forUser(marker, "granted"));
    expect(changes.items.filter(forUser(userId, "revoked"))).toEqual([]);
  });

  test("a malformed payload goes to onError and delivery goes on", async () => {
    const { changes, errors } = await listenOn(handle);
    const garbage = [
      "garbage",
      JSON.stringify({ userId: "usr_x", purpose: "everything", state: "granted" }),
      JSON.stringify({ userId: "", purpose: "faces", state: "revoked" }),
      JSON.stringify(["usr_x", "faces", "revoked"]),
    ];
    for (const payload of garbage) {
      await handle.db.execute(sql`select pg_notify(${CONSENT_CHANNEL}, ${payload})`);
    }
    const userId = newUserId();
    await grant(handle.db, userId, "plates");
    await changes.take("a valid grant after the garbage", forUser(userId, "granted"));
    expect(errors.items).toHaveLength(garbage.length);
    expect(errors.items[0]).toBeInstanceOf(Error);
    expect(changes.items.filter((c) => c.userId === "usr_x" || c.userId === "")).toEqual([]);
  });

  test("an onChange that throws is reported and does not stop the bus or other buses", async () => {
    const errors = new Inbox<unknown>();
    const seen = new Inbox<ConsentChange>();
    buses.push(
      await createConsentBus(handle, {
        onChange: (change) => {
          seen.push(change);
          throw new Error("cache exploded");
        },
        onReconnect: () => {},
        onError: errors.push,
      }),
    );
    const other = await listenOn(handle);
    const userId = newUserId();
    await grant(handle.db, userId, "barrier");
    await other.changes.take("grant on the other bus", forUser(userId, "granted"));
    await seen.take("grant on the throwing bus", forUser(userId, "granted"));
    expect(String(await errors.take("the thrown error"))).toContain("cache exploded");
    const second = newUserId();
    await grant(handle.db, second, "barrier");
    await seen.take("a later grant", forUser(second, "granted"));
  });

  test("a closed bus hears nothing more", async () => {
    const closing = await listenOn(handle);
    const staying = await listenOn(handle);
    await closing.bus.close();
    await closing.bus.close(); // idempotent
    const userId = newUserId();
    await grant(handle.db, userId, "video");
    await staying.changes.take("grant on the open bus", forUser(userId, "granted"));
    expect(closing.changes.items).toEqual([]);
  });
});

if (!onPostgres) {
  console.log(
    "[skip] consent bus across api instances and LISTEN reconnect: needs PostgreSQL (set DATABASE_URL); PGlite has no second connection",
  );
}

describe.if(onPostgres)("consent bus across api instances (PostgreSQL)", () => {
  /** Instance A on a fresh database, and a bus on instance B (a second pool on it). */
  async function twoInstances() {
    const a = await createTestDatabase();
    extraHandles.push(a);
    const b = await openDatabase({ url: a.url ?? "", max: 2 });
    extraHandles.push(b);
    return { a, b: await listenOn(b) };
  }

  test("a revoke on instance A reaches the bus of instance B; so does a grant", async () => {
    const { a, b } = await twoInstances();
    const userId = newUserId();
    await grant(a.db, userId, "faces");
    expect(await b.changes.take("grant from A", forUser(userId, "granted"))).toEqual({
      userId,
      purpose: "faces",
      state: "granted",
    });
    await revokeConsent(a.db, revokeInput(userId, "faces"), APP_AUDIT);
    expect(await b.changes.take("revoke from A", forUser(userId, "revoked"))).toEqual({
      userId,
      purpose: "faces",
      state: "revoked",
    });
  });

  test("when B's LISTEN connection is killed, B reports the reconnect and hears again", async () => {
    const { a, b } = await twoInstances();
    const before = newUserId();
    await grant(a.db, before, "intercom");
    await b.changes.take("grant before the kill", forUser(before, "granted"));

    const killed = await a.db.execute(
      sql`select pg_terminate_backend(pid) as terminated from pg_stat_activity
          where query ilike 'listen%' and datname = current_database()`,
    );
    expect(rowsOf(killed)).toEqual([{ terminated: true }]);
    await b.reconnects.take("onReconnect after the kill");

    const after = newUserId();
    await revokeConsent(a.db, revokeInput(before, "intercom"), APP_AUDIT);
    await grant(a.db, after, "intercom");
    await b.changes.take("revoke after the reconnect", forUser(before, "revoked"));
    await b.changes.take("grant after the reconnect", forUser(after, "granted"));
    expect(b.reconnects.items).toEqual([1]);
    expect(b.errors.items).toEqual([]);
  });

  test("garbage from another instance goes to onError; real changes still arrive", async () => {
    const { a, b } = await twoInstances();
    await a.db.execute(sql`select pg_notify(${CONSENT_CHANNEL}, ${"{not json"})`);
    await b.errors.take("the malformed notification");
    const userId = newUserId();
    await revokeConsent(a.db, revokeInput(userId, "plates"), APP_AUDIT); // no-op: never granted
    await grant(a.db, userId, "plates");
    await b.changes.take("the grant", forUser(userId, "granted"));
    expect(b.changes.items.filter((c) => c.userId === userId)).toHaveLength(1);
    expect(b.errors.items).toHaveLength(1);
  });
});
