import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  IceServer,
  MAX_SDP_BYTES,
  type PartnerScope,
  PartnerSessionId,
  SDP_CONTENT_TYPE,
  VIDEO_SESSION_EXPIRES_HEADER,
} from "@propgate/partner-client/contract";
import { RTCPeerConnection, Vp8RtpPayload } from "werift";
import type { PartnerSim } from "../src/index.ts";
import { DOOR_APP, eventually, getToken, startTestSim } from "./helpers.ts";

const VIEWER = {
  clientId: "viewer",
  clientSecret: "viewer-secret-0123456789",
  scopes: ["video.view"] as PartnerScope[],
};
const OTHER_VIEWER = {
  clientId: "other-viewer",
  clientSecret: "other-viewer-secret-0123456789",
  scopes: ["video.view"] as PartnerScope[],
};
const SIM_ADDRESS = "127.0.0.1";
const CAMERA = "cam-1";

/** The resident's app: a werift peer that only receives video, gathering on loopback only. */
interface Viewer {
  offerSdp: string;
  /** RTP packets and VP8 key frames received on the video track. */
  received: { packets: number; keyframes: number };
  apply(answerSdp: string): Promise<void>;
  close(): Promise<void>;
}

const viewers: Viewer[] = [];

async function createViewer(options: { withAudio?: boolean } = {}): Promise<Viewer> {
  const pc = new RTCPeerConnection({
    iceServers: [],
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: [SIM_ADDRESS],
    iceInterfaceAddresses: { udp4: SIM_ADDRESS },
  });
  const received = { packets: 0, keyframes: 0 };
  pc.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => {
      received.packets += 1;
      if (Vp8RtpPayload.deSerialize(rtp.payload).isKeyframe) received.keyframes += 1;
    });
  });
  pc.addTransceiver("video", { direction: "recvonly" });
  if (options.withAudio) pc.addTransceiver("audio", { direction: "recvonly" });
  const gathered = new Promise<void>((resolve) => {
    pc.iceGatheringStateChange.subscribe((state) => {
      if (state === "complete") resolve();
    });
  });
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== "complete") await gathered;
  const viewer: Viewer = {
    offerSdp: pc.localDescription?.sdp ?? "",
    received,
    apply: (answerSdp) => pc.setRemoteDescription({ type: "answer", sdp: answerSdp }),
    close: () => pc.close(),
  };
  viewers.push(viewer);
  return viewer;
}

function createSession(
  target: PartnerSim,
  token: string | null,
  body: BodyInit,
  options: { camera?: string; contentType?: string; signal?: AbortSignal } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    "content-type": options.contentType ?? SDP_CONTENT_TYPE,
  };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return fetch(`${target.url}/v1/cameras/${options.camera ?? CAMERA}/webrtc`, {
    method: "POST",
    headers,
    body,
    signal: options.signal,
  });
}

function endSession(target: PartnerSim, token: string, location: string): Promise<Response> {
  return fetch(`${target.url}${location}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${token}` },
  });
}

/** WHEP `Link` headers, possibly folded into one comma-separated value by fetch. */
function parseLinks(header: string | null): { url: string; params: Record<string, string> }[] {
  const links: { url: string; params: Record<string, string> }[] = [];
  for (const match of (header ?? "").matchAll(/<([^>]*)>((?:\s*;\s*[\w-]+="[^"]*")*)/g)) {
    const params: Record<string, string> = {};
    for (const param of (match[2] ?? "").matchAll(/([\w-]+)="([^"]*)"/g)) {
      params[param[1] ?? ""] = param[2] ?? "";
    }
    links.push({ url: match[1] ?? "", params });
  }
  return links;
}

function candidateAddresses(sdp: string): string[] {
  return sdp
    .split(/\r?\n/)
    .filter((line) => line.startsWith("a=candidate:"))
    .map((line) => line.split(" ")[4] ?? "");
}

/** Resolves once `read()` has not changed for `windowMs` (polled), failing at the deadline. */
async function settles(read: () => number, windowMs = 400, timeoutMs = 4000): Promise<number> {
  let last = read();
  let since = Date.now();
  return eventually(async () => {
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
      return undefined;
    }
    return Date.now() - since >= windowMs ? now : undefined;
  }, timeoutMs);
}

interface OpenedSession {
  viewer: Viewer;
  response: Response;
  answerSdp: string;
  location: string;
  sessionId: string;
}

/** The whole WHEP dance: offer, POST, answer applied, connected. */
async function openSession(target: PartnerSim, token: string): Promise<OpenedSession> {
  const viewer = await createViewer({ withAudio: true });
  const response = await createSession(target, token, viewer.offerSdp);
  expect(response.status).toBe(201);
  const answerSdp = await response.text();
  const location = response.headers.get("location") ?? "";
  const sessionId = location.replace(/^\/v1\/sessions\//, "");
  await viewer.apply(answerSdp);
  await target.video.waitForSessionState(sessionId, "connected", 5000);
  return { viewer, response, answerSdp, location, sessionId };
}

function sessionInfo(target: PartnerSim, sessionId: string) {
  const info = target.video.sessions().find((s) => s.sessionId === sessionId);
  if (!info) throw new Error(`no session ${sessionId}`);
  return info;
}

let sim: PartnerSim;
let viewerToken: string;
let otherToken: string;
beforeAll(async () => {
  sim = await startTestSim({ clients: [DOOR_APP, VIEWER, OTHER_VIEWER], cameras: [CAMERA] });
  [viewerToken, otherToken] = await Promise.all([
    getToken(sim, VIEWER),
    getToken(sim, OTHER_VIEWER),
  ]);
});
afterAll(async () => {
  await Promise.all(viewers.map((viewer) => viewer.close()));
  await sim.stop();
});

describe("video: WHEP session", () => {
  test("a recvonly VP8 offer gets a 201 answer, and the app receives live VP8", async () => {
    const startedAt = Date.now();
    const { viewer, response, answerSdp, location, sessionId } = await openSession(
      sim,
      viewerToken,
    );
    const answeredAt = Date.now();

    expect(response.headers.get("content-type")).toBe(SDP_CONTENT_TYPE);
    expect(location).toStartWith("/v1/sessions/");
    expect(PartnerSessionId.safeParse(sessionId).success).toBe(true);

    const expiresAt = response.headers.get(VIDEO_SESSION_EXPIRES_HEADER) ?? "";
    expect(expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    // 300 s from the session's creation, which lies between the offer and the answer.
    expect(Date.parse(expiresAt) - startedAt).toBeGreaterThanOrEqual(300_000);
    expect(Date.parse(expiresAt) - answeredAt).toBeLessThanOrEqual(300_000);

    const links = parseLinks(response.headers.get("link"));
    expect(links.length).toBeGreaterThanOrEqual(1);
    for (const link of links) {
      expect(link.url).toBe(`turn:${SIM_ADDRESS}:3478?transport=udp`);
      expect(link.params).toMatchObject({ rel: "ice-server", "credential-type": "password" });
      const [expiry, forSession] = (link.params.username ?? "").split(":");
      expect(forSession).toBe(sessionId);
      expect(Number(expiry)).toBe(Math.floor(Date.parse(expiresAt) / 1000));
      expect(Buffer.from(link.params.credential ?? "", "base64")).toHaveLength(20);
      const server = {
        urls: [link.url],
        username: link.params.username,
        credential: link.params.credential,
      };
      expect(IceServer.safeParse(server).success).toBe(true);
    }

    // ICE stays on the sim's loopback address; the sim only sends video and has no audio.
    const addresses = candidateAddresses(answerSdp);
    expect(addresses.length).toBeGreaterThanOrEqual(1);
    expect(new Set(addresses)).toEqual(new Set([SIM_ADDRESS]));
    expect(answerSdp).not.toContain(".local");
    const [, video = "", audio = ""] = answerSdp.split(/^m=/m);
    expect(video).toStartWith("video ");
    expect(video).toContain("a=sendonly");
    expect(video).toMatch(/a=rtpmap:\d+ VP8\/90000/);
    expect(audio).toStartWith("audio ");
    expect(audio.startsWith("audio 0 ") || audio.includes("a=inactive")).toBe(true);

    await eventually(async () => (viewer.received.keyframes > 0 ? true : undefined), 10_000);
    expect(viewer.received.packets).toBeGreaterThan(0);

    const before = sessionInfo(sim, sessionId);
    expect(before).toMatchObject({
      cameraId: CAMERA,
      clientId: VIEWER.clientId,
      state: "connected",
      closedReason: null,
      expiresAt,
    });
    expect(before.framesSent).toBeGreaterThan(0);
    await eventually(async () =>
      sessionInfo(sim, sessionId).framesSent > before.framesSent ? true : undefined,
    );
    expect(sessionInfo(sim, sessionId).bytesSent).toBeGreaterThan(before.bytesSent);

    const record = await sim.recorder.waitFor(
      (r) => r.operation === "video.create" && r.sessionId === sessionId,
    );
    expect(record).toMatchObject({
      method: "POST",
      status: 201,
      cameraId: CAMERA,
      clientId: VIEWER.clientId,
      sdpBytes: Buffer.byteLength(viewer.offerSdp),
    });
  });

  test("DELETE ends the session and the media; only its creator may; a second DELETE is 404", async () => {
    const { viewer, location, sessionId } = await openSession(sim, viewerToken);
    await eventually(async () => (viewer.received.packets > 0 ? true : undefined), 10_000);

    const byOther = await endSession(sim, otherToken, location);
    expect(byOther.status).toBe(404);
    expect(await byOther.json()).toMatchObject({ error: "not_found" });
    expect(sessionInfo(sim, sessionId).state).toBe("connected");

    const ended = await endSession(sim, viewerToken, location);
    expect(ended.status).toBe(204);
    const closed = await sim.video.waitForSessionState(sessionId, "closed", 1000);
    expect(closed.closedReason).toBe("deleted");

    const packets = await settles(() => viewer.received.packets);
    expect(viewer.received.packets).toBe(packets);
    const frames = await settles(() => sessionInfo(sim, sessionId).framesSent);
    expect(frames).toBe(closed.framesSent);
    const listed = (await (await fetch(`${sim.adminUrl}/admin/video/sessions`)).json()) as {
      sessionId: string;
      closedReason: string | null;
    }[];
    expect(listed.find((s) => s.sessionId === sessionId)?.closedReason).toBe("deleted");

    const again = await endSession(sim, viewerToken, location);
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: "not_found" });
    expect(sim.recorder.all({ operation: "video.delete", sessionId }).map((r) => r.status)).toEqual(
      [404, 204, 404],
    );
  });

  test("a session ends itself at its TTL, and stop() closes the rest", async () => {
    const shortSim = await startTestSim({
      clients: [VIEWER],
      cameras: [CAMERA],
      videoSessionTtlSeconds: 2,
    });
    try {
      const token = await getToken(shortSim, VIEWER);
      const { viewer, response, sessionId } = await openSession(shortSim, token);
      const expiresAt = Date.parse(response.headers.get(VIDEO_SESSION_EXPIRES_HEADER) ?? "");
      expect(expiresAt - Date.now()).toBeLessThanOrEqual(2000);
      await eventually(async () => (viewer.received.packets > 0 ? true : undefined), 10_000);

      const closed = await shortSim.video.waitForSessionState(sessionId, "closed", 5000);
      expect(closed.closedReason).toBe("expired");
      expect(Date.now()).toBeGreaterThanOrEqual(expiresAt - 50);
      const packets = await settles(() => viewer.received.packets);
      expect(packets).toBe(viewer.received.packets);

      const live = await openSession(shortSim, token);
      await shortSim.stop();
      expect(sessionInfo(shortSim, live.sessionId)).toMatchObject({
        state: "closed",
        closedReason: "stopped",
      });
    } finally {
      await shortSim.stop();
    }
  });
});

describe("video: the standard dialect", () => {
  test("Location at a path of its own, ETag and Accept-Patch, no lifetime header; DELETE on that Location ends it", async () => {
    sim.faults.set({ dialect: "standard" });
    try {
      const viewer = await createViewer();
      const response = await createSession(sim, viewerToken, viewer.offerSdp);
      expect(response.status).toBe(201);
      expect(response.headers.get("content-type")).toBe(SDP_CONTENT_TYPE);
      expect(response.headers.get(VIDEO_SESSION_EXPIRES_HEADER)).toBeNull();
      expect(response.headers.get("accept-patch")).toBe("application/trickle-ice-sdpfrag");
      const location = response.headers.get("location") ?? "";
      const match = /^\/streams\/cam-1\/whep\/([^/]+)$/.exec(location);
      expect(match).not.toBeNull();
      const sessionId = match?.[1] ?? "";
      expect(response.headers.get("etag")).toBe(`"${sessionId}"`);
      expect(parseLinks(response.headers.get("link")).length).toBeGreaterThan(0);
      await viewer.apply(await response.text());
      // The old path does not name a standard session by its camera: only the Location does.
      const wrongCamera = await endSession(sim, viewerToken, `/streams/cam-9/whep/${sessionId}`);
      expect(wrongCamera.status).toBe(404);
      const ended = await endSession(sim, viewerToken, location);
      expect(ended.status).toBe(204);
      expect((await sim.video.waitForSessionState(sessionId, "closed", 1000)).closedReason).toBe(
        "deleted",
      );
      expect(
        sim.recorder.all({ operation: "video.delete", sessionId }).map((r) => r.status),
      ).toEqual([404, 204]);
    } finally {
      sim.faults.reset();
    }
  });
});

describe("video: errors", () => {
  let offerSdp: string;
  beforeAll(async () => {
    offerSdp = (await createViewer()).offerSdp;
  });

  test("no token is 401; a token without video.view is 403", async () => {
    const anonymous = await createSession(sim, null, offerSdp);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: "invalid_token" });

    const doorToken = await getToken(sim, DOOR_APP);
    const forbidden = await createSession(sim, doorToken, offerSdp);
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ error: "insufficient_scope" });
    const deleted = await fetch(`${sim.url}/v1/sessions/sim_vs_0`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${doorToken}` },
    });
    expect(deleted.status).toBe(403);
  });

  test("an unknown camera is 404; a wrong content type 415; an oversized offer 413", async () => {
    const unknown = await createSession(sim, viewerToken, offerSdp, { camera: "cam-404" });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: "not_found" });

    const json = await createSession(sim, viewerToken, JSON.stringify({ sdp: offerSdp }), {
      contentType: "application/json",
    });
    expect(json.status).toBe(415);

    const padding = "a=x-padding\r\n".repeat(Math.ceil(MAX_SDP_BYTES / 13));
    const large = await createSession(sim, viewerToken, offerSdp + padding);
    expect(large.status).toBe(413);
    expect(await large.json()).toMatchObject({ error: "payload_too_large" });

    // Without a Content-Length the sim stops reading at the limit.
    const chunk = new TextEncoder().encode(padding);
    const streamed = await createSession(
      sim,
      viewerToken,
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(chunk);
          controller.enqueue(chunk);
          controller.close();
        },
      }),
    );
    expect(streamed.status).toBe(413);
  });

  test("an offer the sim cannot serve is 400 invalid_sdp", async () => {
    const offers = {
      garbage: "hello, I am an offer",
      "send-only video": offerSdp.replace("a=recvonly", "a=sendonly"),
      "no VP8": offerSdp.replace(/VP8\/90000/g, "H264/90000"),
      "no video": offerSdp.replace(/^m=video /m, "m=text "),
    };
    const sessionsBefore = sim.video.sessions().length;
    for (const [name, offer] of Object.entries(offers)) {
      const response = await createSession(sim, viewerToken, offer);
      expect({ name, status: response.status }).toEqual({ name, status: 400 });
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error).toBe("invalid_sdp");
      expect(body.message.length).toBeGreaterThan(0);
      expect(body.message).not.toContain("a=");
    }
    expect(sim.video.sessions()).toHaveLength(sessionsBefore);
  });

  test("bad-sdp answers 201 with every header but a body that is not SDP", async () => {
    sim.faults.set({ responseMode: "bad-sdp", videoSessionTtlSeconds: 60 });
    try {
      const response = await createSession(sim, viewerToken, offerSdp);
      expect(response.status).toBe(201);
      expect(response.headers.get("content-type")).toBe(SDP_CONTENT_TYPE);
      expect(await response.text()).toBe("hello, not sdp");
      const location = response.headers.get("location") ?? "";
      expect(location).toStartWith("/v1/sessions/");
      expect(parseLinks(response.headers.get("link")).length).toBeGreaterThanOrEqual(1);
      const expiresAt = Date.parse(response.headers.get(VIDEO_SESSION_EXPIRES_HEADER) ?? "");
      expect(expiresAt - Date.now()).toBeGreaterThan(55_000);
      expect(expiresAt - Date.now()).toBeLessThanOrEqual(60_000);
      expect(sim.recorder.count({ operation: "video.create", fault: "bad-sdp" })).toBe(1);
      expect((await endSession(sim, viewerToken, location)).status).toBe(204);
    } finally {
      sim.faults.reset();
    }
  });

  test("non-json and bad-schema break the answer's shape", async () => {
    sim.faults.set({ responseMode: "non-json" });
    try {
      const html = await createSession(sim, viewerToken, offerSdp);
      expect(html.status).toBe(201);
      expect(html.headers.get("content-type")).toStartWith("text/html");
      expect(await html.text()).toBe("<html>oops</html>");
      expect((await endSession(sim, viewerToken, html.headers.get("location") ?? "")).status).toBe(
        204,
      );

      sim.faults.set({ responseMode: "bad-schema" });
      const noLocation = await createSession(sim, viewerToken, offerSdp);
      expect(noLocation.status).toBe(201);
      expect(await noLocation.text()).toStartWith("v=0");
      expect(noLocation.headers.get("location")).toBeNull();
    } finally {
      sim.faults.reset();
    }
  });

  test("hang holds the offer unanswered", async () => {
    sim.faults.set({ responseMode: "hang" });
    try {
      const outcome = await createSession(sim, viewerToken, offerSdp, {
        signal: AbortSignal.timeout(300),
      }).then(
        () => "answered",
        (error: Error) => error.name,
      );
      expect(outcome).toBe("TimeoutError");
      const record = await sim.recorder.waitFor(
        (r) => r.operation === "video.create" && r.fault === "hang",
      );
      expect(record.status).toBe(0);
    } finally {
      sim.faults.reset();
    }
  });
});

describe("video: privacy", () => {
  test("the recorder holds no SDP, only its size", () => {
    const records = sim.recorder.all((r) => r.operation.startsWith("video."));
    expect(records.length).toBeGreaterThan(5);
    for (const record of sim.recorder.all()) {
      const json = JSON.stringify(record);
      expect(json).not.toContain("v=0");
      expect(json).not.toContain("a=ice-ufrag");
      expect(json).not.toContain("a=candidate");
      expect(record.body).toBeUndefined();
    }
    expect(records.some((r) => (r.sdpBytes ?? 0) > 0)).toBe(true);
  });
});
