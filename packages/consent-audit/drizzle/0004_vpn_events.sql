CREATE TABLE "vpn_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	"iface" text NOT NULL,
	"peer_fingerprint" text NOT NULL,
	"endpoint_ip" text,
	"kind" text NOT NULL,
	"rx_bytes" integer NOT NULL,
	"tx_bytes" integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX "vpn_events_peer_idx" ON "vpn_events" USING btree ("peer_fingerprint","at");