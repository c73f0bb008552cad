import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { AppRouter } from "@propgate/api";
import { type DatabaseHandle, openDatabase } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { subjectFor } from "@propgate/partner-client";
import { createTRPCClient, httpLink } from "@trpc/client";
import { sql } from "drizzle-orm";
import { type EmbeddedStack, startEmbeddedStack } from "../src/embedded.ts";
import { errorOf } from "../src/testing/harness.ts";
import { startOtlpReceiver } from "../src/testing/otlp-receiver.ts";
import { createOfferMaker } from "./fixtures/webrtc-offer.ts";

/**
 * Canaries (invariant 3, docs/architecture.md): a distinctive plate and a distinctive JPEG go through every
 * flow that touches them (and are posted, refused, as extra fields of partner events); afterwards the whole database, every log line and the data directory
 * are searched — the canaries must be nowhere. Client secrets and access tokens likewise stay
 * out of the database and the logs (the embedded default keeps its generated dev secrets in
 * `<data>/dev-credentials.json` by design, so the data-directory search excludes that one file).
 * Tracing is on, exporting to a collector of the test's own: every span it received is searched
 * too, and holds no user id, subject, plate, image, SDP or token either (invariant 4).
 */
const PLATE_CYRILLIC = "К 913 РМ 199";
const PLATE_LATIN = "K913PM199";
const FACE_MARKER = "CANARY-FACE-51c2e0d7";
const FACE_JPEG = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  Buffer.from(FACE_MARKER.padEnd(96, "#")),
  Buffer.from([0xff, 0xd9]),
]);
const FACE_BASE64 = FACE_JPEG.toString("base64");

const dataDir = mkdtempSync(join(tmpdir(), "propgate-canary-"));
/** The partner surface's clients file: outside the data directory, it holds only a hash. */
const surfaceDir = mkdtempSync(join(tmpdir(), "propgate-canary-surface-"));
const SURFACE_CLIENT = { clientId: "ic-canary", secret: `ic-secret-${crypto.randomUUID()}` };
let testDatabase: TestDatabase | null = null;
let stack: EmbeddedStack;
const logs: string[] = [];
const collector = startOtlpReceiver();
const offers = createOfferMaker();

beforeAll(async () => {
  const logDestination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  if (process.env.DATABASE_URL) testDatabase = await createTestDatabase();
  const clientsFile = join(surfaceDir, "partner-clients.json");
  writeFileSync(
    clientsFile,
    JSON.stringify([
      {
        clientId: SURFACE_CLIENT.clientId,
        secretHash: await Bun.password.hash(SURFACE_CLIENT.secret, {
          algorithm: "argon2id",
          memoryCost: 4096,
          timeCost: 1,
        }),
        partner: "intercom",
        scopes: ["events.write"],
        addresses: ["127.0.0.1"],
      },
    ]),
    { mode: 0o600 },
  );
  stack = await startEmbeddedStack({
    dataDir,
    database: testDatabase ?? undefined,
    logDestination,
    logLevel: "trace",
    env: {
      ERASURE_INTERVAL_MS: "3600000",
      PARTNER_LISTEN: "127.0.0.1:0",
      PARTNER_ALLOWED_CIDRS: "127.0.0.0/8",
      PARTNER_CLIENTS_FILE: clientsFile,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_TRACES_SAMPLER: "always_on",
    },
  });
});

afterAll(async () => {
  await offers.close();
  await stack?.stop();
  await collector.stop();
  await testDatabase?.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(surfaceDir, { recursive: true, force: true });
});

/**
 * A partner posting events that carry a plate and a face image beside the contract's fields:
 * each is refused 400 (strict shapes), so nothing of them may be kept.
 */
async function postEventsWithCanaries(): Promise<void> {
  const surface = stack.partnerSurface;
  if (!surface) throw new Error("the stack started without its partner surface");
  const tokenAnswer = await fetch(`${surface.url}/oauth/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${btoa(`${SURFACE_CLIENT.clientId}:${SURFACE_CLIENT.secret}`)}`,
    },
    body: "grant_type=client_credentials",
  });
  expect(tokenAnswer.status).toBe(200);
  const { access_token: token } = (await tokenAnswer.json()) as { access_token: string };
  const at = new Date().toISOString();
  const granted = {
    type: "access.granted",
    eventId: "canary-1",
    deviceId: "ic-a1",
    method: "plate",
    at,
  };
  const ring = { type: "call.incoming", eventId: "canary-2", deviceId: "ic-a1", unitId: "42", at };
  for (const body of [
    { ...granted, plate: PLATE_CYRILLIC },
    { ...granted, method: "face", faceImage: FACE_BASE64 },
    { ...ring, snapshot: FACE_BASE64 },
    { ...ring, unitId: PLATE_LATIN, visitorPlate: PLATE_LATIN },
  ]) {
    const answer = await fetch(`${surface.url}/partner/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    const text = await answer.text();
    expect({ status: answer.status, code: JSON.parse(text).error?.code }).toEqual({
      status: 400,
      code: "INVALID_INPUT",
    });
    for (const canary of [PLATE_LATIN, PLATE_CYRILLIC, FACE_MARKER, FACE_BASE64.slice(8, 60)])
      expect(text).not.toContain(canary);
  }
}

async function dumpDatabase(): Promise<string> {
  if (testDatabase?.url) {
    const dump = Bun.spawn(["pg_dump", "--no-owner", testDatabase.url], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const text = await new Response(dump.stdout).text();
    expect(await dump.exited).toBe(0);
    return text;
  }
  const handle: DatabaseHandle = await openDatabase({ dataDir: join(dataDir, "pglite") });
  try {
    const tables = (await handle.db.execute(
      "select table_schema || '.' || table_name as name from information_schema.tables where table_schema in ('public','drizzle') and table_type = 'BASE TABLE'",
    )) as unknown as { rows: Array<{ name: string }> };
    let text = "";
    for (const { name } of tables.rows) {
      const rows = (await handle.db.execute(
        `select row_to_json(t)::text as row from ${name} t`,
      )) as unknown as { rows: Array<{ row: string }> };
      text += rows.rows.map((row) => row.row).join("\n");
    }
    return text;
  } finally {
    await handle.close();
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/**
 * Each canary is absent from the database dump, every log line and every file of the data
 * directory; resolves to the dump and the logs for further checks. A RegExp canary is matched
 * against the files' bytes read as latin1.
 */
async function expectNowhere(canaries: Array<string | RegExp>) {
  const database = await dumpDatabase();
  expect(database.length).toBeGreaterThan(1000);
  const logText = logs.join("\n");
  expect(logs.length).toBeGreaterThan(10);
  const spans = await exportedSpans();
  const holds = (text: string, canary: string | RegExp) =>
    typeof canary === "string" ? text.includes(canary) : canary.test(text);
  for (const canary of canaries) {
    const shown = String(canary);
    expect({ canary: shown, where: "database", found: holds(database, canary) }).toEqual({
      canary: shown,
      where: "database",
      found: false,
    });
    expect({ canary: shown, where: "logs", found: holds(logText, canary) }).toEqual({
      canary: shown,
      where: "logs",
      found: false,
    });
    expect({ canary: shown, where: "spans", found: holds(spans, canary) }).toEqual({
      canary: shown,
      where: "spans",
      found: false,
    });
  }
  for (const file of filesUnder(dataDir)) {
    const bytes = readFileSync(file);
    for (const canary of canaries) {
      const found =
        typeof canary === "string"
          ? bytes.includes(Buffer.from(canary))
          : canary.test(bytes.toString("latin1"));
      expect({ file, canary: String(canary), found }).toEqual({
        file,
        canary: String(canary),
        found: false,
      });
    }
  }
  return { database, logText, spans };
}

/** Every span exported so far, as the collector received it (OTLP JSON). */
async function exportedSpans(): Promise<string> {
  await stack.deps.tracing.flush();
  expect(collector.refused).toBe(0);
  expect(collector.spans.length).toBeGreaterThan(5);
  return collector.bodies.join("\n");
}

describe("canaries are found nowhere", () => {
  test("plates and face images pass through; the database, the logs and the data directory never hold them", async () => {
    const token = await stack.issuer.mint({ sub: "user-canary", sites: ["site-a"] });
    const resident = createTRPCClient<AppRouter>({
      links: [
        httpLink({ url: `${stack.api.url}/trpc`, headers: { authorization: `Bearer ${token}` } }),
      ],
    });
    await resident.consent.grant.mutate({ purpose: "plates", noticeVersion: 1 });
    await resident.consent.grant.mutate({ purpose: "faces", noticeVersion: 1 });

    const plate = await resident.plates.add.mutate({ siteId: "site-a", plate: PLATE_CYRILLIC });
    expect(plate.plate).toBe(PLATE_LATIN);
    expect((await resident.plates.list.query({ siteId: "site-a" })).map((p) => p.plate)).toEqual([
      PLATE_LATIN,
    ]);
    const duplicate = await errorOf(
      resident.plates.add.mutate({ siteId: "site-a", plate: PLATE_LATIN }),
    );
    expect(JSON.stringify(duplicate)).not.toContain(PLATE_LATIN);
    const invalid = await errorOf(
      resident.plates.add.mutate({ siteId: "site-a", plate: `${PLATE_CYRILLIC}9` }),
    );
    expect(JSON.stringify(invalid)).not.toContain("913");
    const face = await resident.faces.enroll.mutate({ image: FACE_BASE64 });
    expect((await resident.faces.list.query()).map((f) => f.faceId)).toEqual([face.faceId]);
    // a failing partner call carrying the canaries, to put them near error paths too
    stack.sims.barrier.faults.set({ failNext: 3, errorStatus: 503 });
    await errorOf(resident.plates.add.mutate({ siteId: "site-a", plate: "К 914 РМ 199" }));
    stack.sims.barrier.faults.reset();

    await postEventsWithCanaries();

    await resident.consent.revoke.mutate({ purpose: "plates" });
    await resident.consent.revoke.mutate({ purpose: "faces" });
    await stack.background.runErasuresOnce();
    expect(stack.sims.barrier.data.plates()).toEqual([]);
    expect(stack.sims.intercom.data.faces()).toEqual([]);

    const canaries = [
      PLATE_LATIN,
      PLATE_CYRILLIC,
      PLATE_CYRILLIC.replaceAll(" ", ""),
      "K914PM199",
      FACE_MARKER,
      FACE_BASE64,
      FACE_BASE64.slice(8, 60),
    ];
    const { database, logText, spans } = await expectNowhere(canaries);
    expect(database).toContain("plates.add"); // the calls are audited…
    expect(spans).toContain("trpc plates.add"); // …and traced, by procedure only
    for (const personal of [
      "user-canary",
      subjectFor("user-canary", stack.deps.partners.barrier.subjectKey),
      subjectFor("user-canary", stack.deps.partners.intercom.subjectKey),
    ])
      expect(spans).not.toContain(personal);

    // client secrets and access tokens: not in the database, not in the logs
    const secrets = [
      stack.env.PARTNER_INTERCOM_CLIENT_SECRET,
      stack.env.PARTNER_BARRIER_CLIENT_SECRET,
      token,
    ];
    for (const secret of secrets) {
      expect(database.includes(String(secret))).toBe(false);
      expect(logText.includes(String(secret))).toBe(false);
      expect(spans.includes(String(secret))).toBe(false);
    }
    const jwt = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}/;
    expect(jwt.test(database)).toBe(false);
    expect(jwt.test(logText)).toBe(false);
    expect(jwt.test(spans)).toBe(false);
  });

  test("a guest key's code and QR pass through keys.create to the resident once; the database, the logs and the data directory never hold them", async () => {
    const token = await stack.issuer.mint({ sub: "user-canary-keys", sites: ["site-a"] });
    const resident = createTRPCClient<AppRouter>({
      links: [
        httpLink({ url: `${stack.api.url}/trpc`, headers: { authorization: `Bearer ${token}` } }),
      ],
    });
    await resident.consent.grant.mutate({ purpose: "guests", noticeVersion: 1 });
    // validFrom given: without it each try sends the partner "now", a different body under the
    // same Idempotency-Key, and the retry below is refused (422 at the partner).
    const from = Date.now() + 60_000;
    const request = {
      deviceIds: ["door-a1", "door-a2"],
      validFrom: new Date(from).toISOString(),
      validUntil: new Date(from + 2 * 3_600_000).toISOString(),
      maxUses: 3,
      label: "courier",
      idempotencyKey: `canary-key-${crypto.randomUUID()}`,
    };
    const created = await resident.keys.create.mutate(request);
    // A retry with the same idempotency key: the partner's replay passes the code through again.
    const retried = await resident.keys.create.mutate(request);
    expect(retried).toMatchObject({ keyId: created.keyId, code: created.code });
    const held = stack.sims.intercom.keys.keys();
    expect(held.map((key) => key.code)).toEqual([created.code]);
    expect(created.qr).toContain(created.code); // the sim's QR carries the code
    const listed = await resident.keys.list.query();
    expect(listed.map((key) => key.keyId)).toEqual([created.keyId]);
    expect(JSON.stringify(listed)).not.toContain(created.code);
    // a failing create, to put the key near error paths too (nothing is issued)
    stack.sims.intercom.faults.set({ failNext: 3, errorStatus: 503 });
    await errorOf(resident.keys.create.mutate({ ...request, idempotencyKey: undefined }));
    stack.sims.intercom.faults.reset();
    await resident.keys.revoke.mutate({ keyId: created.keyId });
    expect(await resident.keys.list.query()).toEqual([]);

    const code = created.code;
    const qr = String(created.qr);
    // The code alone is digits: found only where no digit borders it, so that a longer number
    // that merely contains it (a timestamp, a count) is not taken for it.
    const { database } = await expectNowhere([qr, new RegExp(`(?<![0-9])${code}(?![0-9])`)]);
    expect(database).toContain("keys.create"); // the call is audited…
    expect(database).toContain(String(held[0]?.keyId)); // …and the partner's key id kept
  });

  test("a door open and a video session leave spans without the user id, subject, SDP, token or address", async () => {
    const userId = "user-canary-spans-7c1d";
    const token = await stack.issuer.mint({ sub: userId, sites: ["site-a"] });
    const resident = createTRPCClient<AppRouter>({
      links: [
        httpLink({ url: `${stack.api.url}/trpc`, headers: { authorization: `Bearer ${token}` } }),
      ],
    });
    await resident.consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });
    await resident.consent.grant.mutate({ purpose: "video", noticeVersion: 1 });
    await resident.intercom.openDoor.mutate({ deviceId: "door-a1" });
    const offerSdp = await offers.makeOffer();
    const session = await resident.video.createSession.mutate({ cameraId: "cam-a1", offerSdp });
    await resident.video.endSession.mutate({ sessionId: session.sessionId });
    // A refused call (no consent) and a failed one (partner down) reach the error paths too.
    await errorOf(resident.barrier.open.mutate({ deviceId: "gate-a" }));
    // Nothing queued may reach the partner meanwhile and take one of the failures (an earlier
    // test's revoked key, this session's end).
    await stack.background.runKeyEndsOnce();
    await stack.background.runVideoEndsOnce();
    stack.sims.intercom.faults.set({ failNext: 3, errorStatus: 503 });
    await errorOf(resident.intercom.openDoor.mutate({ deviceId: "door-a1" }));
    stack.sims.intercom.faults.reset();

    const spans = await exportedSpans();
    expect(spans).toContain("trpc video.createSession");
    expect(spans).toContain("partner video.create");
    // The SDP's own lines (credentials and fingerprint of the peer) and the answer's.
    const sdpLines = offerSdp
      .split(/\r?\n/)
      .filter((line) => /^a=(ice-ufrag|ice-pwd|fingerprint|candidate):/.test(line));
    expect(sdpLines.length).toBeGreaterThan(2);
    const subjects = [
      subjectFor(userId, stack.deps.partners.intercom.subjectKey),
      subjectFor(userId, stack.deps.partners.barrier.subjectKey),
    ];
    for (const personal of [userId, ...subjects, ...sdpLines, token, "v=0"])
      expect({ personal, found: spans.includes(personal) }).toEqual({ personal, found: false });
    // No client address as an attribute: the only addresses are none at all.
    expect(spans).not.toMatch(/"(client\.address|network\.peer\.address|url\.full|url\.query)"/);
  });

  test("a database error is logged by its code and statement, never its parameters", async () => {
    // A resident whose subject row the database refuses: the insert carries the user id, the
    // pseudonym and the sites as parameters, which drizzle's error message would repeat.
    const userId = "user-canary-db-5e1f";
    const subject = subjectFor(userId, stack.deps.partners.intercom.subjectKey);
    await stack.database.db.execute(
      sql.raw(`create or replace function propgate_test_refuse() returns trigger language plpgsql as $$
        begin raise exception 'refused by the test' using errcode = 'P0001'; end $$`),
    );
    await stack.database.db.execute(
      sql.raw(`create trigger propgate_test_refuse before insert on partner_subjects for each row
        when (new.user_id = '${userId}') execute function propgate_test_refuse()`),
    );
    const before = logs.length;
    try {
      const token = await stack.issuer.mint({ sub: userId, sites: ["site-canary-db"] });
      const resident = createTRPCClient<AppRouter>({
        links: [
          httpLink({ url: `${stack.api.url}/trpc`, headers: { authorization: `Bearer ${token}` } }),
        ],
      });
      await resident.consent.grant.mutate({ purpose: "intercom", noticeVersion: 1 });
      const error = await errorOf(resident.intercom.openDoor.mutate({ deviceId: "door-a1" }));
      expect(error.code).toBe("FORBIDDEN"); // door-a1 is not on site-canary-db…
      const opened = await errorOf(
        createTRPCClient<AppRouter>({
          links: [
            httpLink({
              url: `${stack.api.url}/trpc`,
              headers: {
                authorization: `Bearer ${await stack.issuer.mint({ sub: userId, sites: ["site-a"] })}`,
              },
            }),
          ],
        }).intercom.openDoor.mutate({ deviceId: "door-a1" }),
      );
      expect(opened.code).toBe("INTERNAL_SERVER_ERROR"); // …this one reaches the refused insert
    } finally {
      await stack.database.db.execute(
        sql.raw("drop trigger propgate_test_refuse on partner_subjects"),
      );
    }
    const written = logs.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
    const failed = written.find((line) => line.msg === "procedure failed");
    expect(failed?.err).toEqual({
      type: expect.any(String),
      database: true,
      code: "P0001",
      statement: "insert partner_subjects",
    });
    const text = logs.slice(before).join("\n");
    expect(text).not.toContain(subject);
    expect(text).not.toContain("site-canary-db");
    expect(text).not.toContain("params");
    expect(text).not.toContain(userId);
  });
});
