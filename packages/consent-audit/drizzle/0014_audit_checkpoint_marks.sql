ALTER TABLE "audit_checkpoints" ADD COLUMN "closing" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_checkpoints" ADD COLUMN "interval_ms" integer;--> statement-breakpoint
ALTER TABLE "audit_checkpoints" ADD COLUMN "heartbeat_ms" integer;