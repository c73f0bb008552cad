import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkReadiness,
  listAllDevices,
  listConsents,
  migrateDatabase,
  openDatabase,
  upsertDevices,
  verifyAuditChain,
} from "../src/index";
import { ADMIN_AUDIT, grant, newUserId } from "./fixtures";

setDefaultTimeout(60_000);

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

test("a PGlite database in a data directory survives close and reopen", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "propgate-pglite-"));
  dirs.push(dataDir);
  const userId = newUserId();

  const first = await openDatabase({ dataDir });
  expect(first.kind).toBe("pglite");
  await migrateDatabase(first);
  await grant(first.db, userId, "video");
  await upsertDevices(
    first.db,
    [
      {
        id: "dev_cam_9",
        kind: "camera",
        siteId: "site_a",
        partner: "intercom",
        partnerDeviceId: "C9",
        name: "Cam",
      },
    ],
    ADMIN_AUDIT,
  );
  await first.close();

  const second = await openDatabase({ dataDir });
  try {
    expect(await checkReadiness(second)).toEqual({ ok: true });
    await migrateDatabase(second);
    expect((await listConsents(second.db, userId)).find((c) => c.purpose === "video")?.state).toBe(
      "granted",
    );
    expect((await listAllDevices(second.db)).map((d) => d.id)).toEqual(["dev_cam_9"]);
    expect(await verifyAuditChain(second.db)).toEqual({ ok: true, count: 2 });
  } finally {
    await second.close();
  }
});
