import { describe, expect, test } from "bun:test";
import {
  checkAnswer,
  checkOffer,
  createPartnerClient,
  iceServersFromLinks,
  MAX_SDP_BYTES,
  PartnerProtocolError,
  SdpError,
  videoOperations,
} from "../src/index.ts";

/** A receive-only offer as Chromium writes it (trimmed to the lines that matter). */
export const OFFER = [
  "v=0",
  "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1",
  "a=msid-semantic: WMS",
  "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
  "c=IN IP4 0.0.0.0",
  "a=rtcp:9 IN IP4 0.0.0.0",
  "a=ice-ufrag:Ab3d",
  "a=ice-pwd:0123456789abcdefghijklmn",
  "a=ice-options:trickle",
  "a=fingerprint:sha-256 12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0",
  "a=setup:actpass",
  "a=mid:0",
  "a=recvonly",
  "a=rtcp-mux",
  "a=rtpmap:96 VP8/90000",
  "a=rtpmap:97 rtx/90000",
  "a=fmtp:97 apt=96",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111",
  "c=IN IP4 0.0.0.0",
  "a=ice-ufrag:Ab3d",
  "a=ice-pwd:0123456789abcdefghijklmn",
  "a=fingerprint:sha-256 12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0",
  "a=setup:actpass",
  "a=mid:1",
  "a=recvonly",
  "a=rtpmap:111 opus/48000/2",
  "",
].join("\r\n");

export const ANSWER = OFFER.replace(/a=recvonly/g, "a=sendonly")
  .replace("a=setup:actpass", "a=setup:passive")
  .replace("a=mid:0\r\n", "a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n");

describe("checkOffer", () => {
  test("a receive-only video (+ audio) offer passes and is summarized", () => {
    const summary = checkOffer(OFFER);
    expect(summary.media).toEqual([
      { type: "video", direction: "recvonly", port: 9, codecs: ["VP8", "RTX"] },
      { type: "audio", direction: "recvonly", port: 9, codecs: ["OPUS"] },
    ]);
  });

  const rejects = (sdp: string, message: RegExp) => {
    expect(() => checkOffer(sdp)).toThrow(SdpError);
    expect(() => checkOffer(sdp)).toThrow(message);
  };

  test("an offer that would send media is refused", () => {
    rejects(OFFER.replace("a=recvonly", "a=sendrecv"), /video section is sendrecv/);
    rejects(OFFER.replaceAll("a=recvonly", "a=sendonly"), /a viewer may only receive/);
  });
  test("data channels and other media are refused", () => {
    rejects(
      OFFER.replace(
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
      ),
      /application/,
    );
  });
  test("an offer without video to receive is refused", () => {
    rejects(OFFER.replace("m=video", "m=audio"), /does not ask to receive video/);
  });
  test("unencrypted or credential-less offers are refused", () => {
    rejects(OFFER.replaceAll(/a=fingerprint:[^\r]*\r\n/g, ""), /fingerprint/);
    rejects(OFFER.replaceAll(/a=ice-pwd:[^\r]*\r\n/g, ""), /ICE credentials/);
    rejects(OFFER.replaceAll("UDP/TLS/RTP/SAVPF", "RTP/AVP"), /DTLS-SRTP is required/);
  });
  test("garbage, empty and huge inputs are refused", () => {
    rejects("", /empty/);
    rejects("hello, not sdp", /does not start with v=0/);
    rejects(`${OFFER}<script>\u0000</script>\r\n`, /not an SDP line/);
    rejects(`${OFFER}a=x-pad:${"x".repeat(MAX_SDP_BYTES)}\r\n`, /larger than/);
    rejects("v=0\r\n", /no origin or no media/);
  });
});

describe("checkAnswer", () => {
  test("a send-only answer with candidates passes; its candidates are summarized", () => {
    expect(checkAnswer(ANSWER).candidates).toEqual([
      { ip: "127.0.0.1", port: 50000, transport: "udp", type: "host" },
    ]);
  });
  test("an answer that is not SDP, receives, or has no candidates is refused", () => {
    expect(() => checkAnswer("hello, not sdp")).toThrow(SdpError);
    expect(() => checkAnswer(OFFER)).toThrow(/recvonly/);
    expect(() => checkAnswer(ANSWER.replace(/a=candidate:[^\r]*\r\n/, ""))).toThrow(
      /no ICE candidates/,
    );
  });
});

describe("ICE servers from Link headers", () => {
  test("WHEP ice-server links become RTCIceServer entries; other links are ignored", () => {
    const header =
      '<turn:127.0.0.1:3478?transport=udp>; rel="ice-server"; username="1767225600:sess1"; credential="YWJj+/=="; credential-type="password", ' +
      '<https://partner.example/docs>; rel="help", <stun:127.0.0.1:3478>; rel="ice-server"';
    expect(iceServersFromLinks(header)).toEqual([
      {
        urls: ["turn:127.0.0.1:3478?transport=udp"],
        username: "1767225600:sess1",
        credential: "YWJj+/==",
      },
      { urls: ["stun:127.0.0.1:3478"] },
    ]);
    expect(iceServersFromLinks(null)).toEqual([]);
  });
  test("relation types are case-insensitive and may be listed; unquoted values are read", () => {
    expect(
      iceServersFromLinks(
        '<stun:10.0.0.1:3478>; rel="ICE-Server preload", <stun:10.0.0.2>; rel=ice-server',
      ),
    ).toEqual([{ urls: ["stun:10.0.0.1:3478"] }, { urls: ["stun:10.0.0.2"] }]);
  });
  test("an ice-server link with a non-ICE URL is refused", () => {
    expect(() => iceServersFromLinks('<javascript:alert(1)>; rel="ice-server"')).toThrow();
  });
});

describe("WHEP answers, read tolerantly", () => {
  /** A video adapter whose partner answers the offer with `headers` (and `ANSWER` as body). */
  function answering(headers: Record<string, string>, status = 201) {
    const sent: string[] = [];
    const client = createPartnerClient({
      name: "intercom",
      baseUrl: new URL("https://partner.test/api/"),
      tokenSource: { getToken: async () => "token" },
      fetch: async (input, init) => {
        sent.push(`${init?.method} ${String(input)}`);
        if (init?.method === "DELETE") return new Response(null, { status: 204 });
        return new Response(ANSWER, { status, headers });
      },
      timeoutMs: 1000,
      maxAttempts: 1,
    });
    const video = videoOperations(client);
    return {
      sent,
      create: () => video.createSession({ cameraId: "cam 1", offerSdp: OFFER }),
      end: (sessionPath: string | null, partnerSessionId = "s1") =>
        video.endSession({ sessionPath, partnerSessionId }),
    };
  }
  const SDP = { "content-type": "application/sdp" };

  test("a Location of the partner's own choosing is the session; DELETE goes there", async () => {
    const partner = answering({ ...SDP, location: "/cam1/whep/6f1c-2e" });
    const session = await partner.create();
    expect(session).toMatchObject({
      sessionPath: "/cam1/whep/6f1c-2e",
      partnerSessionId: "6f1c-2e",
      expiresAt: null,
    });
    await partner.end(session.sessionPath);
    expect(partner.sent).toEqual([
      "POST https://partner.test/api/v1/cameras/cam%201/webrtc",
      "DELETE https://partner.test/cam1/whep/6f1c-2e",
    ]);
  });

  test("a relative Location resolves against the request URL; an absolute one on the origin is kept", async () => {
    expect((await answering({ ...SDP, location: "sessions/42?x=1" }).create()).sessionPath).toBe(
      "/api/v1/cameras/cam%201/sessions/42?x=1",
    );
    const absolute = answering({ ...SDP, location: "https://partner.test/whep/7" });
    expect((await absolute.create()).sessionPath).toBe("/whep/7");
  });

  test("content types with parameters, 200 instead of 201, and an expiry header are accepted", async () => {
    const expires = new Date(Date.now() + 600_000).toISOString();
    const partner = answering(
      {
        "content-type": "Application/SDP; charset=utf-8",
        location: "/v1/sessions/abc",
        "x-session-expires-at": expires,
      },
      200,
    );
    expect(await partner.create()).toMatchObject({ partnerSessionId: "abc", expiresAt: expires });
  });

  test("refused: no Location, another origin, the origin's root, a past expiry, a JSON body", async () => {
    const cases: [Record<string, string>, string][] = [
      [SDP, "location"],
      [{ ...SDP, location: "https://media.elsewhere.test/whep/1" }, "location"],
      [{ ...SDP, location: "//evil.test/whep/1" }, "location"],
      [{ ...SDP, location: "/" }, "location"],
      [{ ...SDP, location: "/s/1", "x-session-expires-at": "2001-01-01T00:00:00Z" }, "expiry"],
      [{ "content-type": "application/json", location: "/s/1" }, "content_type"],
      [{ ...SDP, location: "/s/1", link: '<javascript:x>; rel="ice-server"' }, "ice_servers"],
    ];
    for (const [headers, reason] of cases) {
      const error = await answering(headers)
        .create()
        .then(
          () => null,
          (caught: unknown) => caught,
        );
      expect(error).toBeInstanceOf(PartnerProtocolError);
      expect(error).toMatchObject({ reason });
    }
  });

  test("an end never leaves the partner's origin; without a Location, our dialect's path", async () => {
    const partner = answering(SDP);
    await expect(partner.end("//evil.test/steal")).rejects.toThrow(/origin/);
    await partner.end(null, "old-session");
    expect(partner.sent).toEqual(["DELETE https://partner.test/api/v1/sessions/old-session"]);
  });
});
