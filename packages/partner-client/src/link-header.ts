import { IceServer } from "./contract.ts";

const LINK = /<([^>]*)>((?:\s*;\s*[A-Za-z*-]+\s*(?:=\s*(?:"[^"]*"|[^;,\s]*))?)*)/g;
const PARAM = /;\s*([A-Za-z*-]+)\s*(?:=\s*(?:"([^"]*)"|([^;,\s]*)))?/g;

/**
 * ICE servers from WHEP `Link` headers (RFC 8288 syntax, `rel="ice-server"`, RFC 8489/8656 URIs).
 * Links of other relations are ignored; a malformed ice-server link throws.
 */
export function iceServersFromLinks(header: string | null): IceServer[] {
  if (!header) return [];
  const servers: IceServer[] = [];
  for (const match of header.matchAll(LINK)) {
    const params = new Map<string, string>();
    for (const param of (match[2] ?? "").matchAll(PARAM)) {
      params.set((param[1] ?? "").toLowerCase(), param[2] ?? param[3] ?? "");
    }
    // RFC 8288 §3.3: a relation type is case-insensitive, and `rel` may list several.
    const relations = (params.get("rel") ?? "").toLowerCase().split(/\s+/);
    if (!relations.includes("ice-server")) continue;
    const server: Record<string, unknown> = { urls: [match[1]] };
    if (params.has("username")) server.username = params.get("username");
    if (params.has("credential")) server.credential = params.get("credential");
    servers.push(IceServer.parse(server));
  }
  if (servers.length > 4) throw new Error("more than 4 ICE servers");
  return servers;
}
