import { createHmac } from "node:crypto";
import type { IceServer } from "@propgate/partner-client/contract";

/** Where the sim says its TURN server is; nothing listens there (no relay is ever needed on loopback). */
export const TURN_PORT = 3478;

/**
 * Short-lived TURN credentials after the TURN REST API convention
 * (draft-uberti-behave-turn-rest): username `<unix expiry>:<session id>`, credential the base64
 * HMAC-SHA1 of the username under a secret shared with the TURN server.
 */
export function turnCredentials(
  secret: Uint8Array,
  sessionId: string,
  expiresAt: Date,
): { username: string; credential: string } {
  const username = `${Math.floor(expiresAt.getTime() / 1000)}:${sessionId}`;
  const credential = createHmac("sha1", secret).update(username).digest("base64");
  return { username, credential };
}

export function turnUrl(address: string): string {
  const host = address.includes(":") ? `[${address}]` : address;
  return `turn:${host}:${TURN_PORT}?transport=udp`;
}

/** One WHEP `Link` header value per ICE server URL (RFC 8288 with WHEP's ice-server relation). */
export function iceServerLinks(servers: readonly IceServer[]): string[] {
  return servers.flatMap((server) =>
    server.urls.map((url) => {
      let link = `<${url}>; rel="ice-server"`;
      if (server.username !== undefined) link += `; username="${server.username}"`;
      if (server.credential !== undefined) {
        link += `; credential="${server.credential}"; credential-type="password"`;
      }
      return link;
    }),
  );
}
