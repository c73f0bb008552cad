import { createPropgateClient, PropgateError } from "@propgate/client";

/**
 * The dev video page: creates a receive-only offer, asks the api for a session, applies the
 * partner's answer. `window.propgate` exposes the same steps and the receiver's stats to tests.
 */
const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const tokenInput = element<HTMLInputElement>("token");
const cameraInput = element<HTMLInputElement>("camera");
const video = element<HTMLVideoElement>("video");
const status = element<HTMLParagraphElement>("status");
const watchButton = element<HTMLButtonElement>("watch");
const stopButton = element<HTMLButtonElement>("stop");
const consentButton = element<HTMLButtonElement>("consent");

const fromHash = new URLSearchParams(location.hash.slice(1));
tokenInput.value = fromHash.get("token") ?? "";
cameraInput.value = fromHash.get("camera") ?? cameraInput.value;
history.replaceState(null, "", location.pathname); // keep the token out of the address bar

let pc: RTCPeerConnection | null = null;
let sessionId: string | null = null;

function client() {
  const token = tokenInput.value.trim();
  return createPropgateClient({ url: location.origin, getToken: () => token || null });
}

function show(text: string) {
  status.textContent = text;
}

function gatheringComplete(connection: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (connection.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      connection.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => connection.iceGatheringState === "complete" && done();
    connection.addEventListener("icegatheringstatechange", check);
    setTimeout(done, timeoutMs);
  });
}

async function watch(): Promise<{ sessionId: string; answerSdp: string; expiresAt: string }> {
  pc?.close();
  const connection = new RTCPeerConnection();
  pc = connection;
  connection.addTransceiver("video", { direction: "recvonly" });
  connection.addEventListener("track", (event) => {
    video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
  });
  connection.addEventListener("connectionstatechange", () =>
    show(`connection: ${connection.connectionState}`),
  );
  await connection.setLocalDescription(await connection.createOffer());
  await gatheringComplete(connection, 3000);
  show("asking the api for a session…");
  const session = await client().video.createSession.mutate({
    cameraId: cameraInput.value.trim(),
    offerSdp: connection.localDescription?.sdp ?? "",
  });
  sessionId = session.sessionId;
  connection.setConfiguration({ iceServers: session.iceServers });
  await connection.setRemoteDescription({ type: "answer", sdp: session.answerSdp });
  stopButton.disabled = false;
  show(`session ${session.sessionId}, until ${session.expiresAt}`);
  return {
    sessionId: session.sessionId,
    answerSdp: session.answerSdp,
    expiresAt: session.expiresAt,
  };
}

/** Ends the session at the partner; the peer connection is left for the partner to close. */
async function stop(): Promise<void> {
  if (!sessionId) return;
  await client().video.endSession.mutate({ sessionId });
  sessionId = null;
  stopButton.disabled = true;
  show("session ended");
}

async function stats() {
  const report = pc ? await pc.getStats() : new Map();
  let inbound = { framesDecoded: 0, bytesReceived: 0, packetsReceived: 0 };
  for (const entry of report.values()) {
    if (entry.type === "inbound-rtp" && entry.kind === "video") {
      inbound = {
        framesDecoded: entry.framesDecoded ?? 0,
        bytesReceived: entry.bytesReceived ?? 0,
        packetsReceived: entry.packetsReceived ?? 0,
      };
    }
  }
  return { ...inbound, connectionState: pc?.connectionState ?? "none" };
}

async function run(action: () => Promise<unknown>) {
  try {
    await action();
  } catch (error) {
    const cause = error instanceof PropgateError ? ` (${error.code})` : "";
    show(`failed: ${error instanceof Error ? error.message : String(error)}${cause}`);
  }
}

/** Grants the `video` purpose, naming the notice version the api says is current. */
async function grantConsent(): Promise<void> {
  const consents = await client().consent.list.query();
  const video = consents.find((consent) => consent.purpose === "video");
  await client().consent.grant.mutate({
    purpose: "video",
    noticeVersion: video?.currentNoticeVersion ?? 1,
  });
  show(`video consent granted (notice v${video?.currentNoticeVersion ?? 1})`);
}

consentButton.addEventListener("click", () => run(grantConsent));
watchButton.addEventListener("click", () => run(watch));
stopButton.addEventListener("click", () => run(stop));
Object.assign(window, { propgate: { watch, stop, stats } });
