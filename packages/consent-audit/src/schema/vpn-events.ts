import { bigserial, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** The VPN connection log: one row per peer connect/disconnect seen on a WireGuard interface. Append-only. */
export const vpnEvents = pgTable(
  "vpn_events",
  {
    seq: bigserial({ mode: "number" }).primaryKey(),
    at: timestamp({ withTimezone: true }).notNull(),
    recordedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    iface: text().notNull(),
    peerFingerprint: text().notNull(),
    endpointIp: text(),
    kind: text().$type<"connected" | "disconnected">().notNull(),
    rxBytes: integer().notNull(),
    txBytes: integer().notNull(),
  },
  (t) => [
    index("vpn_events_peer_idx").on(t.peerFingerprint, t.at),
    // The retention job's walk, oldest first (docs/data-retention.md).
    index("vpn_events_at_idx").on(t.at),
  ],
);
