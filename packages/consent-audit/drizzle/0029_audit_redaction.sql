CREATE TABLE "audit_redactions" (
	"id" text PRIMARY KEY NOT NULL,
	"chain_id" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"before" timestamp with time zone NOT NULL,
	"rows" integer NOT NULL,
	"digest" text NOT NULL,
	"key_id" text NOT NULL,
	"signature" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "redaction_id" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "redacted_digest" text;--> statement-breakpoint
CREATE INDEX "audit_redactions_chain_idx" ON "audit_redactions" USING btree ("chain_id");--> statement-breakpoint
CREATE INDEX "audit_events_unredacted_idx" ON "audit_events" USING btree ("seq") WHERE "audit_events"."redaction_id" is null and ("audit_events"."user_id" is not null or "audit_events"."client_ip" is not null or "audit_events"."target" is not null or "audit_events"."actor" is not null);--> statement-breakpoint
CREATE INDEX "audit_events_redaction_idx" ON "audit_events" USING btree ("redaction_id","chain_seq") WHERE "audit_events"."redaction_id" is not null;