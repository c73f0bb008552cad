import { desc, eq } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "./database";
import { vpnEvents } from "./schema/vpn-events";
import { parseInput } from "./validation";

const VpnEventInput = z.strictObject({
  iface: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/),
  peerFingerprint: z.string().regex(/^[0-9a-f]{16}$/),
  endpointIp: z.string().max(45).nullable(),
  kind: z.enum(["connected", "disconnected"]),
  at: z.date(),
  rxBytes: z.number().int().min(0),
  txBytes: z.number().int().min(0),
});
export type VpnEventInput = z.input<typeof VpnEventInput>;

export interface VpnEvent {
  seq: number;
  at: string;
  iface: string;
  peerFingerprint: string;
  endpointIp: string | null;
  kind: "connected" | "disconnected";
  rxBytes: number;
  txBytes: number;
}

/** Appends one VPN connect/disconnect to the connection log. */
export async function recordVpnEvent(db: Database, input: VpnEventInput): Promise<void> {
  const event = parseInput(VpnEventInput, input, "vpn event");
  // byte counters can exceed 2^31 on long-lived tunnels; the log keeps them saturated
  const clamp = (value: number) => Math.min(value, 2_147_483_647);
  await db
    .insert(vpnEvents)
    .values({ ...event, rxBytes: clamp(event.rxBytes), txBytes: clamp(event.txBytes) });
}

/** Newest first. */
export async function listVpnEvents(
  db: Database,
  query: { peerFingerprint?: string; limit?: number } = {},
): Promise<VpnEvent[]> {
  const rows = await db
    .select()
    .from(vpnEvents)
    .where(query.peerFingerprint ? eq(vpnEvents.peerFingerprint, query.peerFingerprint) : undefined)
    .orderBy(desc(vpnEvents.seq))
    .limit(Math.min(query.limit ?? 100, 500));
  return rows.map((row) => ({
    seq: row.seq,
    at: row.at.toISOString(),
    iface: row.iface,
    peerFingerprint: row.peerFingerprint,
    endpointIp: row.endpointIp,
    kind: row.kind,
    rxBytes: row.rxBytes,
    txBytes: row.txBytes,
  }));
}
