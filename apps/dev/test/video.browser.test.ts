import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateDatabase, openDatabase, upsertDevices } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { type Browser, chromium, type Page } from "playwright-core";
import { type DevIssuer, generateIssuerKey, startDevIssuer } from "../src/issuer.ts";
import { SEED_DEVICES } from "../src/seed.ts";
import { type Child, spawnChild, udpSocketsOf } from "../src/testing/processes.ts";

/**
 * Live video end to end in a real browser: Debian's Chromium (playwright-core) ↔ the api and the
 * partner simulator, each in its own process, so "the media bypasses the api" is checked on the
 * processes' real sockets.
 */
const CHROMIUM = "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
if (!available) {
  if (process.env.CI)
    throw new Error(`${CHROMIUM} is missing in CI: run scripts/install-system-tools.sh`);
  console.warn(
    `[skip] video browser test: ${CHROMIUM} not installed (scripts/install-system-tools.sh installs it)`,
  );
}

const SECRET = "video-test-client-secret-0123456789abcdef";
const dir = mkdtempSync(join(tmpdir(), "propgate-video-"));
let sim: Child;
let api: Child;
let simUrl = "";
let simAdmin = "";
let apiUrl = "";
let issuer: DevIssuer;
let database: TestDatabase;
let databaseEnv: Record<string, string>;
let browser: Browser;
const proxied = { toBrowser: 0, toApi: 0 };
let proxy: ReturnType<typeof startProxy>;

/** A counting TCP proxy in front of the api: what the api really served, in bytes. */
function startProxy(target: URL) {
  type Link = { upstream?: Awaited<ReturnType<typeof Bun.connect>>; pending: Uint8Array[] };
  return Bun.listen<Link>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      async open(client) {
        client.data = { pending: [] };
        client.data.upstream = await Bun.connect({
          hostname: target.hostname,
          port: Number(target.port),
          socket: {
            data(_upstream, chunk) {
              proxied.toBrowser += chunk.byteLength;
              client.write(chunk);
            },
            close() {
              client.end();
            },
          },
        });
        for (const chunk of client.data.pending) client.data.upstream.write(chunk);
        client.data.pending = [];
      },
      data(client, chunk) {
        proxied.toApi += chunk.byteLength;
        if (client.data.upstream) client.data.upstream.write(chunk);
        else client.data.pending.push(new Uint8Array(chunk));
      },
      close(client) {
        client.data.upstream?.end();
      },
    },
  });
}

beforeAll(async () => {
  if (!available) return;
  sim = spawnChild([process.execPath, `${import.meta.dir}/../../partner-sim/src/main.ts`], {
    PATH: process.env.PATH ?? "",
    HOST: "127.0.0.1",
    PORT: "0",
    ADMIN_PORT: "0",
    SIM_NAME: "intercom",
    SIM_CLIENTS: JSON.stringify([
      { clientId: "propgate", clientSecret: SECRET, scopes: ["intercom.open", "video.view"] },
    ]),
    SIM_INTERCOMS: "ic-a1",
    SIM_CAMERAS: "cam-a1,cam-b1",
  });
  simUrl = (await sim.waitFor(/partner-sim intercom: api (http:\/\/\S+)/))[1] ?? "";
  simAdmin =
    (await sim.waitFor(/partner-sim intercom: admin (http:\/\/\S+)\/admin\/faults/))[1] ?? "";

  issuer = await startDevIssuer({
    privateJwk: await generateIssuerKey(),
    audience: "propgate-api",
  });
  database = await createTestDatabase();
  if (database.url) {
    await upsertDevices(database.db, SEED_DEVICES, { sourceApp: "test", instanceId: "test" });
    databaseEnv = { DATABASE_URL: database.url };
  } else {
    const handle = await openDatabase({ dataDir: join(dir, "pglite") });
    await migrateDatabase(handle);
    await upsertDevices(handle.db, SEED_DEVICES, { sourceApp: "test", instanceId: "test" });
    await handle.close();
    databaseEnv = { DATA_DIR: join(dir, "pglite") };
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    PROPGATE_ENV: "development",
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "debug",
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: "propgate-api",
    AUTH_JWKS_URL: issuer.jwksUrl.href,
    ...databaseEnv,
  };
  for (const partner of ["INTERCOM", "BARRIER"]) {
    env[`PARTNER_${partner}_BASE_URL`] = simUrl;
    env[`PARTNER_${partner}_ISSUER`] = simUrl;
    env[`PARTNER_${partner}_CLIENT_ID`] = "propgate";
    env[`PARTNER_${partner}_CLIENT_SECRET`] = SECRET;
    env[`PARTNER_${partner}_SUBJECT_KEY`] = "ef".repeat(32);
  }
  api = spawnChild([process.execPath, `${import.meta.dir}/../src/dev-api.ts`], env);
  apiUrl = JSON.parse((await api.waitFor(/^\{.*"api listening".*\}$/))[0]).url;
  proxy = startProxy(new URL(apiUrl));

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--allow-loopback-in-peer-connection",
      "--force-webrtc-ip-handling-policy=default",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  proxy?.stop(true);
  await api?.stop();
  await sim?.stop();
  await issuer?.stop();
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface PageStats {
  framesDecoded: number;
  bytesReceived: number;
  packetsReceived: number;
  connectionState: string;
}

declare global {
  interface Window {
    propgate: {
      watch(): Promise<{ sessionId: string; answerSdp: string; expiresAt: string }>;
      stop(): Promise<void>;
      stats(): Promise<PageStats>;
    };
  }
}

async function openPage(userId: string): Promise<Page> {
  const token = await issuer.mint({ sub: userId, sites: ["site-a"] });
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const grant = await fetch(`${apiUrl}/trpc/consent.grant`, {
    method: "POST",
    headers,
    body: JSON.stringify({ purpose: "video", noticeVersion: 1 }),
  });
  expect(grant.status).toBe(200);
  const page = await browser.newPage();
  const address = proxy.port;
  await page.goto(`http://127.0.0.1:${address}/dev/video#token=${token}&camera=cam-a1`);
  return page;
}

const stats = (page: Page) => page.evaluate(() => window.propgate.stats());

/** Polls the page until `check` holds or the deadline passes; returns the last stats. */
async function until(
  page: Page,
  check: (s: PageStats) => boolean,
  timeoutMs: number,
): Promise<PageStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await stats(page);
    if (check(current)) return current;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(current)}`);
    await page.waitForTimeout(200);
  }
}

/** Waits until frames stop arriving: the count is unchanged across a whole second. */
async function mediaStops(page: Page, timeoutMs: number): Promise<PageStats> {
  let previous = await stats(page);
  let stableSince = Date.now();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.waitForTimeout(250);
    const current = await stats(page);
    if (current.framesDecoded !== previous.framesDecoded) stableSince = Date.now();
    else if (Date.now() - stableSince >= 1000) return current;
    previous = current;
    if (Date.now() > deadline)
      throw new Error(`media still flowing after ${timeoutMs} ms: ${JSON.stringify(current)}`);
  }
}

async function simSessions(): Promise<
  Array<{ sessionId: string; state: string; closedReason: string | null }>
> {
  return (await (await fetch(`${simAdmin}/admin/video/sessions`)).json()) as Array<{
    sessionId: string;
    state: string;
    closedReason: string | null;
  }>;
}

describe.skipIf(!available)("live video in a real browser", () => {
  test("frames decode within 15 s, straight from the partner: the api carries no media", async () => {
    const page = await openPage("user-video-1");
    proxied.toBrowser = 0;
    proxied.toApi = 0;
    const session = await page.evaluate(() => window.propgate.watch());
    const playing = await until(page, (s) => s.framesDecoded > 0, 15_000);
    expect(playing.framesDecoded).toBeGreaterThan(0);

    // the answer's candidates are the simulator's own UDP sockets
    const simPorts = udpSocketsOf(sim.pid).map((socket) => `${socket.address}:${socket.port}`);
    const candidates = [
      ...session.answerSdp.matchAll(/^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ/gim),
    ].map((m) => `${m[1]}:${m[2]}`);
    expect(candidates.length).toBeGreaterThan(0);
    for (const candidate of candidates) expect(simPorts).toContain(candidate);
    // the api process has no UDP socket at all
    expect(udpSocketsOf(api.pid)).toEqual([]);

    // keep watching a few seconds, then compare what the api served with the video received
    const later = await until(page, (s) => s.bytesReceived > 250_000, 15_000);
    const apiBytes = proxied.toBrowser + proxied.toApi;
    console.log(
      `[video] browser received ${later.bytesReceived} video bytes; api carried ${apiBytes} bytes during the session (${((100 * apiBytes) / later.bytesReceived).toFixed(1)} %)`,
    );
    expect(apiBytes).toBeLessThan(later.bytesReceived * 0.1);

    // ending the session makes the partner close the peer connection: media stops
    await page.evaluate(() => window.propgate.stop());
    await mediaStops(page, 10_000);
    const ended = (await simSessions()).find(
      (s) => s.state === "closed" && s.closedReason === "deleted",
    );
    expect(ended).toBeDefined();
    await page.close();
  });

  test("an expired session stops media and is no longer listed", async () => {
    const put = await fetch(`${simAdmin}/admin/faults`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ videoSessionTtlSeconds: 4 }),
    });
    expect(put.status).toBe(200);
    try {
      const page = await openPage("user-video-2");
      const session = await page.evaluate(() => window.propgate.watch());
      expect(Date.parse(session.expiresAt) - Date.now()).toBeLessThanOrEqual(4000);
      await until(page, (s) => s.framesDecoded > 0, 15_000);
      await mediaStops(page, 15_000);
      expect((await simSessions()).some((s) => s.closedReason === "expired")).toBe(true);
      const token = await issuer.mint({ sub: "user-video-2", sites: ["site-a"] });
      const listed = await fetch(`${apiUrl}/trpc/video.listSessions`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(((await listed.json()) as { result: { data: unknown[] } }).result.data).toEqual([]);
      await page.close();
    } finally {
      await fetch(`${simAdmin}/admin/faults/reset`, { method: "POST" });
    }
  });

  /** Runs `work` with the sim speaking the standard WHEP dialect, then restores its defaults. */
  async function asStandardPartner(work: () => Promise<void>) {
    const put = await fetch(`${simAdmin}/admin/faults`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ dialect: "standard" }),
    });
    expect(put.status).toBe(200);
    try {
      await work();
    } finally {
      await fetch(`${simAdmin}/admin/faults/reset`, { method: "POST" });
    }
  }

  test("a standard WHEP partner (Location of its own, no lifetime header): frames decode; ending the session stops them", async () => {
    await asStandardPartner(async () => {
      const page = await openPage("user-video-std");
      const before = new Set((await simSessions()).map((s) => s.sessionId));
      const session = await page.evaluate(() => window.propgate.watch());
      // No lifetime from the partner: Propgate's own (VIDEO_SESSION_MAX_SECONDS, 3600 s).
      expect(Date.parse(session.expiresAt) - Date.now()).toBeGreaterThan(3500_000);
      await until(page, (s) => s.framesDecoded > 0, 15_000);
      await page.evaluate(() => window.propgate.stop());
      await mediaStops(page, 10_000);
      const mine = (await simSessions()).filter((s) => !before.has(s.sessionId));
      expect(mine.map((s) => [s.state, s.closedReason])).toEqual([["closed", "deleted"]]);
      await page.close();
    });
  });

  test("revoking video consent stops the media in the browser within 5 s", async () => {
    await asStandardPartner(async () => {
      const page = await openPage("user-video-revoke");
      const before = new Set((await simSessions()).map((s) => s.sessionId));
      await page.evaluate(() => window.propgate.watch());
      await until(page, (s) => s.framesDecoded > 0, 15_000);
      const token = await issuer.mint({ sub: "user-video-revoke", sites: ["site-a"] });
      const revoked = await fetch(`${apiUrl}/trpc/consent.revoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ purpose: "video" }),
      });
      expect(revoked.status).toBe(200);
      const at = Date.now();
      // Frames stop (the check needs one quiet second on top of the 5 s).
      await mediaStops(page, 6_000);
      const mine = (await simSessions()).filter((s) => !before.has(s.sessionId));
      expect(mine.map((s) => [s.state, s.closedReason])).toEqual([["closed", "deleted"]]);
      console.log(`[video] revoke → media stopped in ${Date.now() - at} ms (incl. 1 s quiet)`);
      await page.close();
    });
  });

  test("no SDP reached the database or any log line", async () => {
    // every SDP of this run carried these markers
    const markers = [/a=ice-ufrag/i, /a=fingerprint/i, /a=candidate/i, /\bv=0\b/];
    const logs = [...api.lines, ...sim.lines].join("\n");
    expect(api.lines.length).toBeGreaterThan(10);
    for (const marker of markers) expect(marker.test(logs)).toBe(false);

    await api.stop(); // PGlite allows one process at a time
    const handle = database.url ? database : await openDatabase({ dataDir: join(dir, "pglite") });
    try {
      const tables = (await handle.db.execute<{ name: string }>(
        "select table_schema || '.' || table_name as name from information_schema.tables where table_schema in ('public','drizzle') and table_type = 'BASE TABLE'",
      )) as unknown as { rows?: Array<{ name: string }> } & Array<{ name: string }>;
      const names = (tables.rows ?? tables).map((row) => row.name);
      expect(names).toContain("public.video_sessions");
      let dump = "";
      for (const name of names) {
        const rows = (await handle.db.execute(
          `select row_to_json(t)::text as row from ${name} t`,
        )) as unknown as { rows?: Array<{ row: string }> } & Array<{ row: string }>;
        dump += (rows.rows ?? rows).map((row) => row.row).join("\n");
      }
      expect(dump.includes("video.create_session")).toBe(true);
      for (const marker of markers) expect(marker.test(dump)).toBe(false);
    } finally {
      if (!database.url) await handle.close();
    }
  });
});
