import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  ErasureResponse,
  FaceList,
  FaceRecord,
  type PartnerScope,
  PlateList,
  PlateRecord,
} from "@propgate/partner-client/contract";
import type { PartnerSim, RecordedRequest } from "../src/index.ts";
import { getToken, putFaults, startTestSim, subjectOf } from "./helpers.ts";

const BARRIER_APP = {
  clientId: "barrier-app",
  clientSecret: "barrier-app-secret-0123456789",
  scopes: ["barrier.open", "plates.manage", "subjects.erase", "health.read"] as PartnerScope[],
};
const INTERCOM_APP = {
  clientId: "intercom-app",
  clientSecret: "intercom-app-secret-0123456789",
  scopes: [
    "intercom.open",
    "faces.manage",
    "video.view",
    "subjects.erase",
    "health.read",
  ] as PartnerScope[],
};
/** A second client with the same rights: it must never see the first one's data. */
const OTHER_APP = {
  clientId: "other-app",
  clientSecret: "other-app-secret-0123456789",
  scopes: ["plates.manage", "faces.manage", "subjects.erase"] as PartnerScope[],
};
const OPEN_ONLY = {
  clientId: "open-only",
  clientSecret: "open-only-secret-0123456789",
  scopes: ["intercom.open", "barrier.open", "health.read"] as PartnerScope[],
};

/** What a record of a plate, face or erasure call may hold. */
const ALLOWED_RECORD_FIELDS = new Set([
  "seq",
  "at",
  "method",
  "path",
  "operation",
  "status",
  "clientId",
  "tokenClaims",
  "subject",
  "siteId",
  "plate",
  "plateId",
  "faceId",
  "bodyFields",
  "imageBytes",
  "categories",
  "fault",
]);
const SUBJECT_OPERATIONS = new Set([
  "plates.list",
  "plates.add",
  "plates.remove",
  "faces.list",
  "faces.enroll",
  "faces.remove",
  "subjects.erase",
]);

let sim: PartnerSim;
const tokens: Record<"barrier" | "intercom" | "other" | "openOnly", string> = {
  barrier: "",
  intercom: "",
  other: "",
  openOnly: "",
};
beforeAll(async () => {
  sim = await startTestSim({
    name: "barrier",
    clients: [BARRIER_APP, INTERCOM_APP, OTHER_APP, OPEN_ONLY],
  });
  [tokens.barrier, tokens.intercom, tokens.other, tokens.openOnly] = await Promise.all([
    getToken(sim, BARRIER_APP),
    getToken(sim, INTERCOM_APP),
    getToken(sim, OTHER_APP),
    getToken(sim, OPEN_ONLY),
  ]);
});
beforeEach(() => {
  sim.faults.reset();
});
afterAll(() => sim.stop());

interface CallOptions {
  token?: string | null;
  query?: Record<string, string>;
  body?: unknown;
  signal?: AbortSignal;
}

function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const url = new URL(path, sim.url);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    url.searchParams.set(key, value);
  }
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? tokens.barrier : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  return fetch(url, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal,
  });
}

const platesPath = (siteId: string) => `/v1/sites/${siteId}/plates`;

async function addPlate(siteId: string, body: Record<string, unknown>, token = tokens.barrier) {
  const response = await call("POST", platesPath(siteId), { token, body });
  expect(response.status).toBe(201);
  return PlateRecord.parse(await response.json());
}

async function listPlates(siteId: string, subject: string, token = tokens.barrier) {
  const response = await call("GET", platesPath(siteId), { token, query: { subject } });
  expect(response.status).toBe(200);
  return PlateList.parse(await response.json()).plates;
}

/** A small JPEG-shaped image (SOI … EOI) carrying `marker` so its bytes can be searched for. */
function jpeg(marker: string, size = 0): Buffer {
  const payload = Buffer.from(marker.repeat(Math.max(1, Math.ceil(size / marker.length))));
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), payload, Buffer.from([0xff, 0xd9])]);
}

async function enroll(subject: string, image: Buffer, token = tokens.intercom) {
  const response = await call("POST", "/v1/faces", {
    token,
    body: { subject, image: image.toString("base64") },
  });
  expect(response.status).toBe(201);
  return FaceRecord.parse(await response.json());
}

async function listFaces(subject: string, token = tokens.intercom) {
  const response = await call("GET", "/v1/faces", { token, query: { subject } });
  expect(response.status).toBe(200);
  return FaceList.parse(await response.json()).faces;
}

async function expectError(response: Response, status: number, error: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toStartWith("application/json");
  const text = await response.text();
  expect(JSON.parse(text)).toMatchObject({ error });
  return text;
}

function recordsOf(predicate: (record: RecordedRequest) => boolean = () => true) {
  return sim.recorder.all(
    (record) => SUBJECT_OPERATIONS.has(record.operation) && predicate(record),
  );
}

describe("plates", () => {
  const subject = subjectOf("plates-resident");

  test("add, list and remove; recorded with the plate and the body's field names", async () => {
    const first = await addPlate("site-1", { subject, plate: "A123BC77" });
    expect(first.id).toMatch(/^pl_[0-9a-f]{24}$/);
    expect(first).toMatchObject({ plate: "A123BC77", validUntil: null });
    const validUntil = "2031-01-01T00:00:00.000Z";
    const second = await addPlate("site-1", { subject, plate: "AB123777", validUntil });
    expect(second.validUntil).toBe(validUntil);

    expect(await listPlates("site-1", subject)).toEqual([first, second]);
    expect(await listPlates("site-2", subject)).toEqual([]);
    expect(sim.data.plates(subject)).toEqual([
      { siteId: "site-1", plate: "A123BC77", subject, clientId: BARRIER_APP.clientId },
      { siteId: "site-1", plate: "AB123777", subject, clientId: BARRIER_APP.clientId },
    ]);

    const added = sim.recorder.all({ operation: "plates.add", plateId: second.id });
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({
      status: 201,
      subject,
      siteId: "site-1",
      plate: "AB123777",
      bodyFields: ["plate", "subject", "validUntil"],
      clientId: BARRIER_APP.clientId,
    });
    expect(added[0]?.body).toBeUndefined();

    const removed = await call("DELETE", `${platesPath("site-1")}/${first.id}`, {
      query: { subject },
    });
    expect(removed.status).toBe(204);
    expect(await listPlates("site-1", subject)).toEqual([second]);
    expect(sim.recorder.count({ operation: "plates.list", subject })).toBe(3);
    expect(sim.recorder.count({ operation: "plates.remove", subject, status: 204 })).toBe(1);
  });

  test("the same plate twice is 409; the 21st plate of a subject at a site is 422", async () => {
    const own = subjectOf("plates-limit");
    await addPlate("site-1", { subject: own, plate: "A000AA77" });
    await expectError(
      await call("POST", platesPath("site-1"), { body: { subject: own, plate: "A000AA77" } }),
      409,
      "conflict",
    );
    // The same plate is fine at another site, or for another subject.
    await addPlate("site-2", { subject: own, plate: "A000AA77" });
    await addPlate("site-1", { subject: subjectOf("plates-limit-2"), plate: "A000AA77" });

    for (let i = 1; i < 20; i++) {
      await addPlate("site-1", { subject: own, plate: `A${String(i).padStart(3, "0")}AA77` });
    }
    await expectError(
      await call("POST", platesPath("site-1"), { body: { subject: own, plate: "B999BB77" } }),
      422,
      "limit_exceeded",
    );
    expect(await listPlates("site-1", own)).toHaveLength(20);
  });

  test("remove: another subject's plate, another client's, another site's or an unknown one is 404", async () => {
    const owner = subjectOf("plates-owner");
    const plate = await addPlate("site-1", { subject: owner, plate: "E111EE99" });
    const attempts: [string, CallOptions][] = [
      [`${platesPath("site-1")}/${plate.id}`, { query: { subject: subjectOf("intruder") } }],
      [`${platesPath("site-1")}/${plate.id}`, { query: { subject: owner }, token: tokens.other }],
      [`${platesPath("site-2")}/${plate.id}`, { query: { subject: owner } }],
      [`${platesPath("site-1")}/pl_unknown`, { query: { subject: owner } }],
    ];
    for (const [path, options] of attempts) {
      await expectError(await call("DELETE", path, options), 404, "not_found");
    }
    expect(await listPlates("site-1", owner)).toEqual([plate]);
  });

  test("clients never see each other's plates", async () => {
    const shared = subjectOf("plates-shared");
    const mine = await addPlate("site-1", { subject: shared, plate: "K222KK50" });
    expect(await listPlates("site-1", shared, tokens.other)).toEqual([]);
    // The other client may hold the same plate for the same subject: it is its own data.
    const theirs = await addPlate("site-1", { subject: shared, plate: "K222KK50" }, tokens.other);
    expect(await listPlates("site-1", shared)).toEqual([mine]);
    expect(await listPlates("site-1", shared, tokens.other)).toEqual([theirs]);
    expect(sim.data.plates(shared).map((p) => p.clientId)).toEqual([
      BARRIER_APP.clientId,
      OTHER_APP.clientId,
    ]);
  });

  test("bad input is 400 invalid_request without echoing the rejected values", async () => {
    const planted = "SECRET-PLATE-CANARY-0042";
    const extra = await call("POST", platesPath("site-1"), {
      body: { subject, plate: "A123BC77", owner: planted },
    });
    const text = await expectError(extra, 400, "invalid_request");
    expect(text).not.toContain(planted);
    expect(text).toContain("owner");
    const record = recordsOf((r) => r.operation === "plates.add" && r.status === 400).at(-1);
    expect(record).toMatchObject({ subject, bodyFields: ["owner", "plate", "subject"] });
    expect(JSON.stringify(record)).not.toContain(planted);

    // A plate the sender forgot to normalize (Cyrillic, spaces) is rejected, and recorded as sent.
    const unnormalized = "А 123 ВС 77";
    const raw = await call("POST", platesPath("site-1"), {
      body: { subject, plate: unnormalized },
    });
    expect(await expectError(raw, 400, "invalid_request")).not.toContain(unnormalized);
    expect(sim.recorder.all({ operation: "plates.add", plate: unnormalized })).toHaveLength(1);

    const badBodies: unknown[] = [
      { subject, plate: "A123BC77", validUntil: "tomorrow" },
      { subject: "not-a-subject", plate: "A123BC77" },
      { plate: "A123BC77" },
      [subject],
    ];
    for (const body of badBodies) {
      await expectError(await call("POST", platesPath("site-1"), { body }), 400, "invalid_request");
    }
    const notJson = await fetch(new URL(platesPath("site-1"), sim.url), {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.barrier}`, "content-type": "application/json" },
      body: "{plate",
    });
    await expectError(notJson, 400, "invalid_request");
    const wrongType = await fetch(new URL(platesPath("site-1"), sim.url), {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.barrier}`, "content-type": "text/plain" },
      body: JSON.stringify({ subject, plate: "A123BC77" }),
    });
    await expectError(wrongType, 415, "unsupported_media_type");

    const badQueries: Record<string, string>[] = [
      {},
      { subject: "nope" },
      { subject, plate: "A123BC77" },
    ];
    for (const query of badQueries) {
      await expectError(await call("GET", platesPath("site-1"), { query }), 400, "invalid_request");
    }
    await expectError(
      await call("GET", platesPath("bad site!"), { query: { subject } }),
      400,
      "invalid_request",
    );
    await expectError(
      await call("DELETE", `${platesPath("site-1")}/pl_x`, {}),
      400,
      "invalid_request",
    );
    await expectError(await call("PUT", platesPath("site-1"), {}), 405, "method_not_allowed");
  });
});

describe("faces", () => {
  const subject = subjectOf("faces-resident");

  test("enroll, list and remove; only a SHA-256 of the image is kept", async () => {
    const image = jpeg("face-one");
    const face = await enroll(subject, image);
    expect(face.faceId).toMatch(/^fc_[0-9a-f]{24}$/);
    expect(await listFaces(subject)).toEqual([face]);
    expect(sim.data.faces(subject)).toEqual([
      {
        faceId: face.faceId,
        subject,
        imageSha256: createHash("sha256").update(image).digest("hex"),
        clientId: INTERCOM_APP.clientId,
      },
    ]);
    expect(sim.recorder.all({ operation: "faces.enroll", faceId: face.faceId })[0]).toMatchObject({
      status: 201,
      subject,
      imageBytes: image.length,
      bodyFields: ["image", "subject"],
    });

    // Another client sees nothing and cannot remove it.
    expect(await listFaces(subject, tokens.other)).toEqual([]);
    const path = `/v1/faces/${face.faceId}`;
    await expectError(
      await call("DELETE", path, { token: tokens.other, query: { subject } }),
      404,
      "not_found",
    );
    await expectError(
      await call("DELETE", path, { token: tokens.intercom, query: { subject: subjectOf("x") } }),
      404,
      "not_found",
    );

    const removed = await call("DELETE", path, { token: tokens.intercom, query: { subject } });
    expect(removed.status).toBe(204);
    expect(await listFaces(subject)).toEqual([]);
    await expectError(
      await call("DELETE", path, { token: tokens.intercom, query: { subject } }),
      404,
      "not_found",
    );
    expect(sim.recorder.count({ operation: "faces.remove", subject, faceId: face.faceId })).toBe(3);
  });

  test("a non-JPEG is 422 invalid_image; bad base64 or an extra field is 400", async () => {
    const own = subjectOf("faces-bad");
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
    const truncated = jpeg("cut-short").subarray(0, -2);
    for (const image of [png, truncated, Buffer.alloc(0)]) {
      const response = await call("POST", "/v1/faces", {
        token: tokens.intercom,
        body: { subject: own, image: image.toString("base64") },
      });
      await expectError(response, 422, "invalid_image");
    }
    const notBase64 = await call("POST", "/v1/faces", {
      token: tokens.intercom,
      body: { subject: own, image: "not base64 at all!" },
    });
    await expectError(notBase64, 400, "invalid_request");

    const planted = jpeg("PLANTED-EXTRA-FIELD").toString("base64");
    const extra = await call("POST", "/v1/faces", {
      token: tokens.intercom,
      body: { subject: own, image: jpeg("ok").toString("base64"), thumbnail: planted },
    });
    expect(await expectError(extra, 400, "invalid_request")).not.toContain(planted);
    expect(await listFaces(own)).toEqual([]);
  });

  test("an image over 5 MiB is 413; the sixth face of a subject is 422", async () => {
    const own = subjectOf("faces-limit");
    const big = jpeg("0123456789abcdef", 5 * 1024 * 1024);
    const tooBig = await call("POST", "/v1/faces", {
      token: tokens.intercom,
      body: { subject: own, image: big.toString("base64") },
    });
    await expectError(tooBig, 413, "payload_too_large");
    const bigRecord = recordsOf((r) => r.operation === "faces.enroll" && r.status === 413).at(-1);
    expect(bigRecord?.imageBytes).toBe(big.length);

    for (let i = 0; i < 5; i++) await enroll(own, jpeg(`face-${i}`));
    const sixth = await call("POST", "/v1/faces", {
      token: tokens.intercom,
      body: { subject: own, image: jpeg("face-6").toString("base64") },
    });
    await expectError(sixth, 422, "limit_exceeded");
    expect(await listFaces(own)).toHaveLength(5);
    await expectError(
      await call("GET", "/v1/faces", { token: tokens.intercom }),
      400,
      "invalid_request",
    );
  });
});

describe("scopes", () => {
  const subject = subjectOf("scopes-resident");
  const image = jpeg("scopes").toString("base64");
  const endpoints: [string, string, string, CallOptions][] = [
    ["plates.manage", "GET", platesPath("site-1"), { query: { subject } }],
    ["plates.manage", "POST", platesPath("site-1"), { body: { subject, plate: "A123BC77" } }],
    ["plates.manage", "DELETE", `${platesPath("site-1")}/pl_1`, { query: { subject } }],
    ["faces.manage", "GET", "/v1/faces", { query: { subject } }],
    ["faces.manage", "POST", "/v1/faces", { body: { subject, image } }],
    ["faces.manage", "DELETE", "/v1/faces/fc_1", { query: { subject } }],
    ["subjects.erase", "DELETE", `/v1/subjects/${subject}`, {}],
    ["subjects.erase", "GET", `/v1/subjects/${subject}/erasure`, {}],
  ];

  test("each endpoint needs its scope: 403 insufficient_scope, 401 without a token", async () => {
    for (const [scope, method, path, options] of endpoints) {
      const denied = await call(method, path, { ...options, token: tokens.openOnly });
      await expectError(denied, 403, "insufficient_scope");
      expect(denied.headers.get("www-authenticate")).toContain(`scope="${scope}"`);
      const anonymous = await call(method, path, { ...options, token: null });
      await expectError(anonymous, 401, "invalid_token");
    }
    // The barrier client has no faces.manage, the intercom client no plates.manage.
    await expectError(
      await call("GET", "/v1/faces", { token: tokens.barrier, query: { subject } }),
      403,
      "insufficient_scope",
    );
    await expectError(
      await call("GET", platesPath("site-1"), { token: tokens.intercom, query: { subject } }),
      403,
      "insufficient_scope",
    );
    // A token narrowed to another scope is refused too.
    const narrowed = await getToken(sim, BARRIER_APP, "plates.manage");
    await expectError(
      await call("DELETE", `/v1/subjects/${subject}`, { token: narrowed }),
      403,
      "insufficient_scope",
    );
    expect(sim.data.plates(subject)).toEqual([]);
    expect(sim.data.faces(subject)).toEqual([]);
  });
});

describe("the standard dialect", () => {
  test("JSON answers carry fields beyond the contract, with a charset; erasure answers 204, or 202 when told", async () => {
    const erase = (subject: string, token: string, categories: string) =>
      call("DELETE", `/v1/subjects/${subject}`, { token, query: { categories } });
    sim.faults.set({ dialect: "standard" });
    const target = subjectOf("dialect-target");
    await addPlate("site-1", { subject: target, plate: "M200MM77" });
    const listed = await call("GET", "/v1/sites/site-1/plates", { query: { subject: target } });
    expect(listed.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const body = (await listed.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["_links", "plates", "requestId"]);
    expect(PlateList.safeParse(body).success).toBe(true);

    const gone = await erase(target, tokens.barrier, "plates");
    expect(gone.status).toBe(204);
    expect(await gone.text()).toBe("");
    expect(sim.data.plates(target)).toEqual([]);
    sim.faults.set({ erasureAnswer: "accepted" });
    const accepted = await erase(target, tokens.barrier, "plates");
    expect(accepted.status).toBe(202);
    // The propgate dialect keeps the counts.
    sim.faults.set({ dialect: "propgate", erasureAnswer: null });
    expect((await erase(target, tokens.barrier, "plates")).status).toBe(200);
  });
});

describe("the state of an accepted erasure", () => {
  const status = (subject: string, token = tokens.barrier) =>
    call("GET", `/v1/subjects/${subject}/erasure`, { token });
  const accept = async (subject: string) => {
    sim.faults.set({ erasureAnswer: "accepted" });
    const answer = await call("DELETE", `/v1/subjects/${subject}`, {
      token: tokens.barrier,
      query: { categories: "plates" },
    });
    expect(answer.status).toBe(202);
  };

  test("pending with Retry-After until the configured delay, then done at that time", async () => {
    const target = subjectOf("status-target");
    await expectError(await status(target), 404, "not_found");
    sim.faults.set({ erasureCompletesAfterMs: 1500 });
    const before = Date.now();
    await accept(target);
    const pending = await status(target);
    expect(pending.status).toBe(200);
    expect(await pending.json()).toEqual({ status: "pending" });
    expect(pending.headers.get("retry-after")).toMatch(/^[12]$/);
    // Another client never sees this client's erasure.
    await expectError(await status(target, tokens.other), 404, "not_found");

    sim.faults.set({ erasureCompletesAfterMs: 0 });
    const done = await status(target);
    const body = (await done.json()) as { status: string; completedAt: string };
    expect(body.status).toBe("done");
    expect(Date.parse(body.completedAt)).toBeGreaterThanOrEqual(before - 1);
    expect(done.headers.get("retry-after")).toBeNull();
  });

  test("erasureNeverCompletes keeps it pending", async () => {
    const target = subjectOf("status-never");
    await accept(target);
    sim.faults.set({ erasureNeverCompletes: true });
    const answer = await status(target);
    expect(await answer.json()).toEqual({ status: "pending" });
    expect(answer.headers.get("retry-after")).toBe("1");
  });
});

describe("erasure", () => {
  const erase = (subject: string, token: string, categories?: string) =>
    call("DELETE", `/v1/subjects/${subject}`, {
      token,
      query: categories === undefined ? {} : { categories },
    });

  async function erased(subject: string, token: string, categories?: string) {
    const response = await erase(subject, token, categories);
    expect(response.status).toBe(200);
    return ErasureResponse.parse(await response.json());
  }

  test("erases exactly the subject's data in the asked categories, and is idempotent", async () => {
    const target = subjectOf("erase-target");
    const bystander = subjectOf("erase-bystander");
    await addPlate("site-1", { subject: target, plate: "M100MM77" });
    await addPlate("site-2", { subject: target, plate: "M101MM77" });
    await addPlate("site-1", { subject: bystander, plate: "M102MM77" });
    await addPlate("site-1", { subject: target, plate: "M103MM77" }, tokens.other);
    await enroll(target, jpeg("erase-1"));
    await enroll(target, jpeg("erase-2"));
    await enroll(bystander, jpeg("erase-3"));

    expect(await erased(target, tokens.barrier, "plates")).toEqual({
      subject: target,
      erased: { plates: 2 },
    });
    expect(sim.data.plates(target)).toEqual([
      { siteId: "site-1", plate: "M103MM77", subject: target, clientId: OTHER_APP.clientId },
    ]);
    expect(sim.data.plates(bystander)).toHaveLength(1);
    expect(await listFaces(target)).toHaveLength(2);

    // The barrier client holds no faces for the subject; the intercom client holds two.
    expect(await erased(target, tokens.barrier)).toEqual({
      subject: target,
      erased: { faces: 0, plates: 0 },
    });
    expect(await erased(target, tokens.intercom, "faces,plates")).toEqual({
      subject: target,
      erased: { faces: 2, plates: 0 },
    });
    expect(await listFaces(target)).toEqual([]);
    expect(await listFaces(bystander)).toHaveLength(1);
    expect(await erased(target, tokens.intercom, "faces")).toEqual({
      subject: target,
      erased: { faces: 0 },
    });

    const log = sim.data.erasures().filter((entry) => entry.subject === target);
    expect(log.map(({ categories, clientId }) => ({ categories, clientId }))).toEqual([
      { categories: ["plates"], clientId: BARRIER_APP.clientId },
      { categories: ["faces", "plates"], clientId: BARRIER_APP.clientId },
      { categories: ["faces", "plates"], clientId: INTERCOM_APP.clientId },
      { categories: ["faces"], clientId: INTERCOM_APP.clientId },
    ]);
    expect(Number.isNaN(Date.parse(log[0]?.at ?? ""))).toBe(false);
    expect(sim.recorder.count({ operation: "subjects.erase", subject: target, status: 200 })).toBe(
      4,
    );
    expect(
      sim.recorder.all({ operation: "subjects.erase", subject: target }).map((r) => r.categories),
    ).toEqual([["plates"], ["faces", "plates"], ["faces", "plates"], ["faces"]]);
  });

  test("an unknown category, a bad subject or an extra query parameter is 400", async () => {
    const subject = subjectOf("erase-bad");
    for (const categories of ["faces,voice", "", "faces,,plates"]) {
      const response = await erase(subject, tokens.barrier, categories);
      expect(await expectError(response, 400, "invalid_request")).not.toContain("voice");
    }
    await expectError(await erase("short", tokens.barrier), 400, "invalid_request");
    await expectError(
      await call("DELETE", `/v1/subjects/${subject}`, { query: { force: "yes" } }),
      400,
      "invalid_request",
    );
    await expectError(await call("GET", `/v1/subjects/${subject}`), 405, "method_not_allowed");
    expect(sim.data.erasures().filter((entry) => entry.subject === subject)).toEqual([]);
  });

  test("failErasures fails exactly the next N erasures with 503 and Retry-After: 1", async () => {
    const subject = subjectOf("erase-retry");
    await addPlate("site-1", { subject, plate: "P500PP77" });
    expect((await putFaults(sim, { failErasures: 2 })).status).toBe(200);

    // Other calls are not affected and do not use up the count.
    expect(await listPlates("site-1", subject)).toHaveLength(1);
    for (let i = 0; i < 2; i++) {
      const response = await erase(subject, tokens.barrier, "plates");
      await expectError(response, 503, "unavailable");
      expect(response.headers.get("retry-after")).toBe("1");
    }
    expect(sim.data.plates(subject)).toHaveLength(1);
    expect(await erased(subject, tokens.barrier, "plates")).toEqual({
      subject,
      erased: { plates: 1 },
    });
    expect(sim.faults.get().failErasures).toBe(0);
    expect(sim.recorder.count({ operation: "subjects.erase", subject })).toBe(3);
    expect(
      sim.recorder.count({ operation: "subjects.erase", subject, fault: "failErasures" }),
    ).toBe(2);

    // It wins over other faults, even ones that would answer differently.
    sim.faults.set({ failErasures: 1, failNext: 1, errorStatus: 429, retryAfterSeconds: 9 });
    const first = await erase(subject, tokens.barrier);
    expect(first.status).toBe(503);
    expect(first.headers.get("retry-after")).toBe("1");
    expect(sim.faults.get().failNext).toBe(1);
  });
});

describe("fault injection", () => {
  test("failNext and errorRate apply, and the call is still recorded per subject", async () => {
    const subject = subjectOf("faults-fail");
    sim.faults.set({ failNext: 1, errorStatus: 429, retryAfterSeconds: 4 });
    const failed = await call("POST", platesPath("site-1"), {
      body: { subject, plate: "T400TT77" },
    });
    await expectError(failed, 429, "rate_limited");
    expect(failed.headers.get("retry-after")).toBe("4");
    expect(sim.recorder.all({ operation: "plates.add", subject, fault: "failNext" })).toEqual([
      expect.objectContaining({ status: 429, plate: "T400TT77", siteId: "site-1" }),
    ]);
    expect(sim.data.plates(subject)).toEqual([]);

    sim.faults.set({ errorRate: 1, errorStatus: 503, retryAfterSeconds: 2 });
    const listed = await call("GET", "/v1/faces", { token: tokens.intercom, query: { subject } });
    await expectError(listed, 503, "unavailable");
    expect(listed.headers.get("retry-after")).toBe("2");
    expect(sim.recorder.count({ operation: "faces.list", subject, fault: "errorRate" })).toBe(1);
  });

  test("latency delays the call", async () => {
    sim.faults.set({ latencyMs: 150 });
    const started = performance.now();
    await listFaces(subjectOf("faults-latency"));
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  test("non-json and bad-schema break the answer, not the work", async () => {
    const subject = subjectOf("faults-modes");
    sim.faults.set({ responseMode: "bad-schema" });
    const added = await call("POST", platesPath("site-1"), {
      body: { subject, plate: "C300CC77" },
    });
    expect(added.status).toBe(201);
    expect(PlateRecord.safeParse(await added.json()).success).toBe(false);
    const enrolled = await call("POST", "/v1/faces", {
      token: tokens.intercom,
      body: { subject, image: jpeg("modes").toString("base64") },
    });
    expect(enrolled.status).toBe(201);
    expect(FaceRecord.safeParse(await enrolled.json()).success).toBe(false);
    const listed = await call("GET", platesPath("site-1"), { query: { subject } });
    expect(PlateList.safeParse(await listed.json()).success).toBe(false);
    const erasedBad = await call("DELETE", `/v1/subjects/${subject}`, {
      query: { categories: "faces" },
    });
    expect(ErasureResponse.safeParse(await erasedBad.json()).success).toBe(false);

    sim.faults.set({ responseMode: "non-json" });
    const [plate] = sim.data.plates(subject);
    expect(plate?.plate).toBe("C300CC77");
    const plateId = sim.recorder.all({ operation: "plates.add", subject })[0]?.plateId ?? "";
    const removed = await call("DELETE", `${platesPath("site-1")}/${plateId}`, {
      query: { subject },
    });
    expect(removed.status).toBe(200);
    expect(removed.headers.get("content-type")).toStartWith("text/html");
    expect(sim.data.plates(subject)).toEqual([]);
    const faces = await call("GET", "/v1/faces", { token: tokens.intercom, query: { subject } });
    expect(faces.headers.get("content-type")).toStartWith("text/html");
    expect(sim.recorder.count({ subject, fault: "non-json" })).toBe(2);
  });

  test("hang holds the call; nothing is stored", async () => {
    const subject = subjectOf("faults-hang");
    sim.faults.set({ responseMode: "hang" });
    const client = new AbortController();
    const pending = call("POST", "/v1/faces", {
      token: tokens.intercom,
      body: { subject, image: jpeg("hung").toString("base64") },
      signal: client.signal,
    }).catch((error: unknown) => error);
    const record = await sim.recorder.waitFor(
      (r) => r.operation === "faces.enroll" && r.subject === subject,
    );
    client.abort();
    expect(await pending).toBeInstanceOf(Error);
    expect(record).toMatchObject({ status: 0, fault: "hang", imageBytes: jpeg("hung").length });
    expect(sim.data.faces(subject)).toEqual([]);
  });
});

describe("recorder and admin", () => {
  test("records never hold an image, and only the allowed fields", async () => {
    const subject = subjectOf("recorder-canary");
    const canary = jpeg("CANARY-FACE-9f1c7e2a-", 4096);
    const encoded = canary.toString("base64");
    await enroll(subject, canary);
    await enroll(subject, canary, tokens.other);
    // …also when the call is refused, fails by an injected fault, or hangs.
    const refusals: CallOptions[] = [
      { token: tokens.intercom, body: { subject, image: encoded, note: "x" } },
      { token: tokens.openOnly, body: { subject, image: encoded } },
    ];
    for (const options of refusals) {
      expect((await call("POST", "/v1/faces", options)).status).toBeGreaterThanOrEqual(400);
    }
    sim.faults.set({ failNext: 1 });
    expect(
      (
        await call("POST", "/v1/faces", {
          token: tokens.intercom,
          body: { subject, image: encoded },
        })
      ).status,
    ).toBe(503);
    sim.faults.set({ responseMode: "bad-schema" });
    await call("POST", "/v1/faces", { token: tokens.intercom, body: { subject, image: encoded } });
    sim.faults.reset();

    // The 403 is answered before the body is read, so it carries no subject.
    const enrolls = sim.recorder.all({ operation: "faces.enroll", subject });
    expect(enrolls.length).toBe(5);
    for (const record of enrolls) expect(record.imageBytes).toBe(canary.length);

    const admin = await (await fetch(`${sim.adminUrl}/admin/requests`)).text();
    const data = await (await fetch(`${sim.adminUrl}/admin/data`)).text();
    const needles = [encoded, encoded.slice(100, 160), "CANARY-FACE-9f1c7e2a"];
    for (const haystack of [admin, data, ...recordsOf().map((r) => JSON.stringify(r))]) {
      for (const needle of needles) expect(haystack).not.toContain(needle);
    }
    const unexpected = recordsOf().flatMap((record) =>
      Object.keys(record).filter((field) => !ALLOWED_RECORD_FIELDS.has(field)),
    );
    expect(unexpected).toEqual([]);
  });

  test("/admin/data and /admin/requests?subject= answer what the sim holds", async () => {
    const subject = subjectOf("admin-data");
    await addPlate("site-9", { subject, plate: "X900XX77" });
    const face = await enroll(subject, jpeg("admin"));

    const response = await fetch(`${sim.adminUrl}/admin/data?subject=${subject}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      plates: sim.data.plates(subject),
      faces: sim.data.faces(subject),
      erasures: sim.data.erasures(),
    });
    expect(body.faces).toEqual([expect.objectContaining({ faceId: face.faceId })]);
    const all = (await (await fetch(`${sim.adminUrl}/admin/data`)).json()) as {
      plates: unknown[];
    };
    expect(all.plates.length).toBe(sim.data.plates().length);
    expect((await fetch(`${sim.adminUrl}/admin/data?sort=1`)).status).toBe(400);

    const requests = (await (
      await fetch(`${sim.adminUrl}/admin/requests?operation=plates.add&subject=${subject}`)
    ).json()) as { requests: RecordedRequest[] };
    expect(requests.requests.map((r) => [r.operation, r.plate])).toEqual([
      ["plates.add", "X900XX77"],
    ]);
    for (const operation of SUBJECT_OPERATIONS) {
      const listed = await fetch(`${sim.adminUrl}/admin/requests?operation=${operation}`);
      expect(listed.status).toBe(200);
    }
  });
});
