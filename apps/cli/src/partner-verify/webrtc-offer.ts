import { checkOffer } from "@propgate/partner-client";
import { RTCPeerConnection } from "werift";

/**
 * A receive-only video offer made by a real werift peer, as the resident's app makes one (ICE
 * credentials, DTLS fingerprint), passing the api's own `checkOffer`. Its candidates are taken
 * out and the peer is closed before the offer leaves: the check reads the partner's answer and
 * ends the session, and with nowhere to send ICE checks neither side gets ICMP errors back
 * (werift's UDP sockets have no error handler).
 */
export async function makeReceiveOnlyOffer(timeoutMs: number): Promise<string> {
  const peer = new RTCPeerConnection({
    iceServers: [],
    iceUseIpv6: false,
    iceUseIpv4: false,
    iceAdditionalHostAddresses: ["127.0.0.1"],
  });
  try {
    peer.addTransceiver("video", { direction: "recvonly" });
    await peer.setLocalDescription(await peer.createOffer());
    if (peer.iceGatheringState !== "complete") {
      await peer.iceGatheringStateChange.watch((state) => state === "complete", timeoutMs);
    }
    const sdp = (peer.localDescription?.sdp ?? "")
      .split("\r\n")
      .filter((line) => !line.startsWith("a=candidate:"))
      .join("\r\n");
    checkOffer(sdp);
    return sdp;
  } finally {
    await peer.close();
  }
}
