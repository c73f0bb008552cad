import { client, type VpnEvent } from "./api.ts";
import { byId, bytes, cell, fillTable, h, optional, screenLink, tableById } from "./elements.ts";
import { t } from "./i18n/i18n.ts";
import { createPanel } from "./panel.ts";
import { navigate, type Screen } from "./router.ts";
import { timeElement } from "./time.ts";

/**
 * The VPN connection log (`admin.vpn.events`, written by the health probe from WireGuard's
 * handshakes): per peer, whether it is connected now and since when, then the events, newest
 * first. A peer is its key's fingerprint; the endpoint is the partner's server, not a person.
 */

interface Peer {
  fingerprint: string;
  iface: string;
  latest: VpnEvent;
  connects: number;
  disconnects: number;
}

function peersOf(events: VpnEvent[]): Peer[] {
  const peers = new Map<string, Peer>();
  for (const event of events) {
    const key = `${event.iface}\u0000${event.peerFingerprint}`;
    // Newest first: the first event met is the peer's latest.
    const peer = peers.get(key) ?? {
      fingerprint: event.peerFingerprint,
      iface: event.iface,
      latest: event,
      connects: 0,
      disconnects: 0,
    };
    if (event.kind === "connected") peer.connects += 1;
    else peer.disconnects += 1;
    peers.set(key, peer);
  }
  return [...peers.values()];
}

const PEER_COLUMNS = [
  t("col.peer"),
  t("col.interface"),
  t("vpn.col.now"),
  t("vpn.col.since"),
  t("col.endpoint"),
  t("vpn.col.connects"),
  t("vpn.col.disconnects"),
];
const EVENT_COLUMNS = [
  t("col.time"),
  t("col.peer"),
  t("col.interface"),
  t("vpn.col.event"),
  t("col.endpoint"),
  t("vpn.col.received"),
  t("vpn.col.sent"),
];
const kindName = (kind: "connected" | "disconnected") => t(`vpn.${kind}`);

export function createVpnScreen(ready: Promise<unknown>): Screen {
  const section = byId("screen-vpn", HTMLElement);
  const form = byId("vpn-form", HTMLFormElement);
  const peerInput = byId("vpn-peer", HTMLInputElement);
  const limit = byId("vpn-limit", HTMLSelectElement);
  const peersTable = tableById("vpn-peers", PEER_COLUMNS);
  const eventsTable = tableById("vpn-events", EVENT_COLUMNS);
  const panel = createPanel(section, () => ready);

  async function load(peer: string | undefined) {
    const events = (
      await client.admin.vpn.events.query({
        peerFingerprint: peer,
        limit: limit.value === "500" ? 500 : 100,
      })
    ).sort((a, b) => b.at.localeCompare(a.at) || b.seq - a.seq); // newest first by time
    fillTable(
      peersTable,
      peersOf(events).map((entry) =>
        h(
          "tr",
          { "data-peer": entry.fingerprint, "data-state": entry.latest.kind },
          cell(screenLink(entry.fingerprint, "vpn", { peer: entry.fingerprint }), {
            class: "mono",
          }),
          cell(entry.iface),
          cell(kindName(entry.latest.kind), { class: `state-${entry.latest.kind}` }),
          cell(timeElement(entry.latest.at)),
          cell(entry.latest.endpointIp),
          cell(entry.connects, { class: "num" }),
          cell(entry.disconnects, { class: "num" }),
        ),
      ),
      t("vpn.noPeers"),
    );
    fillTable(
      eventsTable,
      events.map((event) =>
        h(
          "tr",
          { "data-peer": event.peerFingerprint, "data-kind": event.kind },
          cell(timeElement(event.at)),
          cell(event.peerFingerprint, { class: "mono id" }),
          cell(event.iface),
          cell(kindName(event.kind), { class: `state-${event.kind}` }),
          cell(event.endpointIp),
          cell(bytes(event.rxBytes), { class: "num" }),
          cell(bytes(event.txBytes), { class: "num" }),
        ),
      ),
      t("vpn.noEvents"),
    );
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("vpn", { peer: optional(peerInput.value) });
  });
  return {
    name: "vpn",
    section,
    show(params) {
      const peer = optional(params.get("peer") ?? "");
      peerInput.value = peer ?? "";
      void panel.run(t("vpn.loading"), () => load(peer));
    },
  };
}
