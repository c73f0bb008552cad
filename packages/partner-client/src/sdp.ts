import { parse } from "sdp-transform";
import { MAX_SDP_BYTES } from "./contract.ts";

/**
 * Checks on session descriptions, which are untrusted input both ways: the app's offer before it
 * goes to a partner, the partner's answer before it goes to the app. Never forwarded blindly.
 */
export class SdpError extends Error {
  readonly code = "INVALID_SDP";
  constructor(message: string) {
    super(message);
    this.name = "SdpError";
  }
}

export interface SdpSummary {
  media: Array<{ type: string; direction: string; port: number; codecs: string[] }>;
  candidates: Array<{ ip: string; port: number; transport: string; type: string }>;
}

type Parsed = ReturnType<typeof parse>;
type MediaSection = Parsed["media"][number];

const LINE = /^[a-z]=[\x20-\x7e\t]*$/;

function parseStrict(sdp: string, what: string): Parsed {
  if (typeof sdp !== "string" || sdp.length === 0) throw new SdpError(`${what} is empty`);
  if (Buffer.byteLength(sdp, "utf8") > MAX_SDP_BYTES)
    throw new SdpError(`${what} is larger than ${MAX_SDP_BYTES} bytes`);
  const lines = sdp.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  if (lines[0] !== "v=0") throw new SdpError(`${what} does not start with v=0`);
  const bad = lines.findIndex((line) => !LINE.test(line));
  if (bad !== -1) throw new SdpError(`${what} line ${bad + 1} is not an SDP line`);
  const parsed = parse(sdp);
  if (!parsed.origin || !parsed.media?.length)
    throw new SdpError(`${what} has no origin or no media sections`);
  return parsed;
}

function direction(section: MediaSection, session: Parsed): string {
  return section.direction ?? session.direction ?? "sendrecv";
}

function iceAndDtls(section: MediaSection, session: Parsed, what: string) {
  if (section.port === 0) return; // rejected section: nothing to connect
  if (!(section.iceUfrag ?? session.iceUfrag) || !(section.icePwd ?? session.icePwd)) {
    throw new SdpError(`${what} ${section.type} section lacks ICE credentials`);
  }
  if (!(section.fingerprint ?? session.fingerprint))
    throw new SdpError(`${what} ${section.type} section lacks a DTLS fingerprint`);
  const protocol = section.protocol ?? "";
  if (!/^(UDP\/TLS\/RTP\/SAVPF|UDP\/TLS\/RTP\/SAVP|TCP\/TLS\/RTP\/SAVPF)$/.test(protocol)) {
    throw new SdpError(
      `${what} ${section.type} section uses ${protocol.slice(0, 32) || "no"} transport; DTLS-SRTP is required`,
    );
  }
}

function summarize(parsed: Parsed): SdpSummary {
  return {
    media: parsed.media.map((section) => ({
      type: section.type,
      direction: direction(section, parsed),
      port: section.port,
      codecs: (section.rtp ?? []).map((rtp) => rtp.codec.toUpperCase()),
    })),
    candidates: parsed.media.flatMap((section) =>
      (section.candidates ?? []).map((candidate) => ({
        ip: candidate.ip,
        port: candidate.port,
        transport: candidate.transport.toLowerCase(),
        type: candidate.type,
      })),
    ),
  };
}

/** The app's offer: receive-only video (optionally audio), encrypted, with ICE credentials. */
export function checkOffer(sdp: string): SdpSummary {
  const parsed = parseStrict(sdp, "offer");
  const sections = parsed.media;
  if (sections.length > 4) throw new SdpError("offer has too many media sections");
  for (const section of sections) {
    if (section.type !== "video" && section.type !== "audio") {
      throw new SdpError(
        `offer asks for ${section.type.slice(0, 16)} media; only video and audio are served`,
      );
    }
    const dir = direction(section, parsed);
    if (dir !== "recvonly" && dir !== "inactive") {
      throw new SdpError(`offer ${section.type} section is ${dir}; a viewer may only receive`);
    }
    iceAndDtls(section, parsed, "offer");
  }
  if (
    !sections.some(
      (section) => section.type === "video" && direction(section, parsed) === "recvonly",
    )
  ) {
    throw new SdpError("offer does not ask to receive video");
  }
  return summarize(parsed);
}

/** The partner's answer: send-only (or inactive), with ICE credentials, fingerprints and candidates. */
export function checkAnswer(sdp: string): SdpSummary {
  const parsed = parseStrict(sdp, "answer");
  for (const section of parsed.media) {
    const dir = direction(section, parsed);
    if (dir !== "sendonly" && dir !== "inactive")
      throw new SdpError(`answer ${section.type} section is ${dir}`);
    iceAndDtls(section, parsed, "answer");
  }
  const summary = summarize(parsed);
  if (
    !summary.media.some(
      (media) => media.type === "video" && media.direction === "sendonly" && media.port !== 0,
    )
  ) {
    throw new SdpError("answer sends no video");
  }
  if (summary.candidates.length === 0) throw new SdpError("answer carries no ICE candidates");
  return summary;
}
