/**
 * Just enough SDP (RFC 8866) reading to decide whether the sim can serve an offer, and to keep
 * the answer's ICE candidates on the sim's own address. Messages never quote the SDP.
 */

const DIRECTIONS = ["sendrecv", "recvonly", "sendonly", "inactive"] as const;
type Direction = (typeof DIRECTIONS)[number];

interface MediaSection {
  kind: string;
  port: number;
  formats: string[];
  lines: string[];
}

export type OfferCheck = { ok: true; videoMid: string | null } | { ok: false; message: string };

function splitLines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((line) => line !== "");
}

function attribute(lines: readonly string[], name: string): string | undefined {
  const prefix = `a=${name}:`;
  return lines.find((line) => line.startsWith(prefix))?.slice(prefix.length);
}

function direction(lines: readonly string[]): Direction | undefined {
  return DIRECTIONS.find((value) => lines.includes(`a=${value}`));
}

function parseSections(lines: readonly string[]): { session: string[]; media: MediaSection[] } {
  const session: string[] = [];
  const media: MediaSection[] = [];
  for (const line of lines) {
    if (line.startsWith("m=")) {
      const [kind = "", port = "", , ...formats] = line.slice(2).split(" ");
      media.push({ kind, port: Number.parseInt(port, 10), formats, lines: [] });
    } else {
      (media.at(-1)?.lines ?? session).push(line);
    }
  }
  return { session, media };
}

function offersVp8(section: MediaSection): boolean {
  return section.lines.some((line) => {
    const match = /^a=rtpmap:(\d+) ([^/\s]+)\/(\d+)/.exec(line);
    return (
      match !== null &&
      section.formats.includes(match[1] ?? "") &&
      match[2]?.toUpperCase() === "VP8" &&
      match[3] === "90000"
    );
  });
}

/**
 * Whether the offer asks for what the sim has: a video section the app can receive
 * (`recvonly` or `sendrecv`) with VP8, ICE credentials and a DTLS fingerprint.
 */
export function checkOffer(sdp: string): OfferCheck {
  const lines = splitLines(sdp);
  if (lines[0] !== "v=0" || !lines.some((line) => line.startsWith("o="))) {
    return { ok: false, message: "the offer is not an SDP session description" };
  }
  const { session, media } = parseSections(lines);
  const videos = media.filter((section) => section.kind === "video" && section.port !== 0);
  if (videos.length === 0) return { ok: false, message: "the offer has no video section" };
  const withVp8 = videos.filter(offersVp8);
  if (withVp8.length === 0) return { ok: false, message: "the offer's video does not accept VP8" };
  const receivable = withVp8.find((section) => {
    const dir = direction(section.lines) ?? direction(session) ?? "sendrecv";
    return dir === "recvonly" || dir === "sendrecv";
  });
  if (!receivable) {
    return { ok: false, message: "the offer's video does not receive; the camera only sends" };
  }
  const has = (name: string) =>
    attribute(receivable.lines, name) !== undefined || attribute(session, name) !== undefined;
  if (!has("ice-ufrag") || !has("ice-pwd")) {
    return { ok: false, message: "the offer has no ICE credentials" };
  }
  if (!has("fingerprint")) return { ok: false, message: "the offer has no DTLS fingerprint" };
  return { ok: true, videoMid: attribute(receivable.lines, "mid") ?? null };
}

/** The connection address of an `a=candidate:` line (RFC 8839 §5.1), or undefined. */
export function candidateAddress(line: string): string | undefined {
  if (!line.startsWith("a=candidate:")) return undefined;
  return line.slice("a=candidate:".length).split(" ")[4];
}

/** Drops every ICE candidate not on `address` (other interfaces, mDNS names); CRLF line ends. */
export function keepCandidatesOn(sdp: string, address: string): string {
  const wanted = address.toLowerCase();
  const kept = splitLines(sdp).filter((line) => {
    const candidate = candidateAddress(line);
    return candidate === undefined || candidate.toLowerCase() === wanted;
  });
  return `${kept.join("\r\n")}\r\n`;
}

/** Whether an answer accepts video (non-zero port) and carries at least one ICE candidate. */
export function hasLiveVideo(sdp: string): boolean {
  const lines = splitLines(sdp);
  const { media } = parseSections(lines);
  return (
    media.some((section) => section.kind === "video" && section.port !== 0) &&
    lines.some((line) => line.startsWith("a=candidate:"))
  );
}
