import type { Metrics } from "@propgate/observability";
import { parseWgDump, type WgPeer } from "./wg-dump.ts";

export interface VpnConnectionEvent {
  iface: string;
  peerFingerprint: string;
  endpointIp: string | null;
  kind: "connected" | "disconnected";
  at: Date;
  rxBytes: number;
  txBytes: number;
}

export interface VpnCollectorOptions {
  iface: string;
  /** The command that prints `wg show <iface> dump` (configurable so tests can feed fixtures). */
  command: string[];
  /**
   * A peer is up while its latest handshake — or the last time its received bytes grew
   * (keepalives count) — is younger than this. WireGuard rehandshakes only every 2 minutes.
   */
  handshakeTimeoutSeconds: number;
  /** Where connection events go (the vpn_events table in production). */
  record(event: VpnConnectionEvent): Promise<void>;
  metrics?: Metrics;
  now?: () => number;
  commandTimeoutMs?: number;
}

/**
 * Turns WireGuard handshakes into a connection log: polls `wg show dump`, and when a peer's
 * state changes (a fresh handshake → connected; no handshake within the timeout, or the peer
 * gone → disconnected) records one event with the peer's key fingerprint, endpoint IP and bytes.
 */
export function createVpnCollector(options: VpnCollectorOptions) {
  const now = options.now ?? Date.now;
  const up = new Map<string, WgPeer>();
  const lastRx = new Map<string, { rx: number; at: number }>();
  let timer: ReturnType<typeof setInterval> | null = null;
  let polling: Promise<VpnConnectionEvent[]> | null = null;

  async function dump(): Promise<WgPeer[]> {
    const child = Bun.spawn(options.command, { stdout: "pipe", stderr: "pipe" });
    const timeout = setTimeout(() => child.kill(), options.commandTimeoutMs ?? 5000);
    try {
      const [text, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      if (code !== 0) throw new Error(`${options.command[0]} exited with ${code}`);
      return parseWgDump(text);
    } finally {
      clearTimeout(timeout);
    }
  }

  async function poll(): Promise<VpnConnectionEvent[]> {
    const peers = await dump();
    const at = now();
    const events: VpnConnectionEvent[] = [];
    const seen = new Set<string>();
    for (const peer of peers) {
      seen.add(peer.fingerprint);
      const previous = lastRx.get(peer.fingerprint);
      const activeAt = previous && peer.rxBytes > previous.rx ? at : (previous?.at ?? 0);
      lastRx.set(peer.fingerprint, { rx: peer.rxBytes, at: activeAt });
      const lastSign = Math.max(
        peer.latestHandshake * 1000,
        peer.latestHandshake === 0 ? 0 : activeAt,
      );
      const ageSeconds = lastSign === 0 ? Number.POSITIVE_INFINITY : (at - lastSign) / 1000;
      const isUp = ageSeconds < options.handshakeTimeoutSeconds;
      options.metrics?.vpnPeerUp.set(
        { iface: options.iface, peer: peer.fingerprint },
        isUp ? 1 : 0,
      );
      if (peer.latestHandshake > 0) {
        const handshakeAge = at / 1000 - peer.latestHandshake;
        options.metrics?.vpnHandshakeAge.set(
          { iface: options.iface, peer: peer.fingerprint },
          handshakeAge,
        );
      }
      const wasUp = up.has(peer.fingerprint);
      if (isUp && !wasUp)
        events.push(event(peer, "connected", new Date(peer.latestHandshake * 1000)));
      if (!isUp && wasUp) events.push(event(peer, "disconnected", new Date(at)));
      if (isUp) up.set(peer.fingerprint, peer);
      else up.delete(peer.fingerprint);
    }
    for (const [fingerprint, peer] of up) {
      if (seen.has(fingerprint)) continue; // removed from the interface while up
      events.push(event(peer, "disconnected", new Date(at)));
      up.delete(fingerprint);
      options.metrics?.vpnPeerUp.set({ iface: options.iface, peer: fingerprint }, 0);
    }
    for (const item of events) await options.record(item);
    return events;
  }

  function event(peer: WgPeer, kind: VpnConnectionEvent["kind"], at: Date): VpnConnectionEvent {
    return {
      iface: options.iface,
      peerFingerprint: peer.fingerprint,
      endpointIp: peer.endpointIp,
      kind,
      at,
      rxBytes: peer.rxBytes,
      txBytes: peer.txBytes,
    };
  }

  return {
    /** One poll now; overlapping calls share the poll in flight. */
    pollOnce(): Promise<VpnConnectionEvent[]> {
      polling ??= poll().finally(() => {
        polling = null;
      });
      return polling;
    },
    start(intervalMs: number, onError: (error: unknown) => void) {
      timer = setInterval(() => {
        this.pollOnce().catch(onError);
      }, intervalMs);
    },
    async stop() {
      if (timer) clearInterval(timer);
      await polling?.catch(() => {});
    },
  };
}
