CREATE TABLE "anomalies" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"subject_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"window_seconds" integer NOT NULL,
	"count" integer NOT NULL,
	"threshold" integer NOT NULL,
	"first_seen" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	"block_id" text,
	CONSTRAINT "anomalies_window_uq" UNIQUE("kind","subject_type","subject_id","window_start"),
	CONSTRAINT "anomalies_kind_ck" CHECK ("anomalies"."kind" in ('mass_access_checks', 'enumeration', 'unusual_opening', 'credential_guessing', 'partner_credential_guessing', 'consent_probing', 'outside_vpn')),
	CONSTRAINT "anomalies_subject_ck" CHECK ("anomalies"."subject_type" in ('resident', 'ip', 'partner_client'))
);
--> statement-breakpoint
CREATE TABLE "blocks" (
	"id" text PRIMARY KEY NOT NULL,
	"subject_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"kind" text NOT NULL,
	"anomaly_id" text,
	"offence" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"lifted_at" timestamp with time zone,
	"lifted_by" text,
	"lift_reason" text,
	CONSTRAINT "blocks_kind_ck" CHECK ("blocks"."kind" in ('mass_access_checks', 'enumeration', 'unusual_opening', 'credential_guessing', 'partner_credential_guessing', 'consent_probing', 'outside_vpn')),
	CONSTRAINT "blocks_subject_ck" CHECK ("blocks"."subject_type" in ('resident', 'ip', 'partner_client'))
);
--> statement-breakpoint
ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_kind_ck";--> statement-breakpoint
CREATE INDEX "anomalies_last_seen_idx" ON "anomalies" USING btree ("last_seen");--> statement-breakpoint
CREATE INDEX "blocks_subject_idx" ON "blocks" USING btree ("subject_type","subject_id");--> statement-breakpoint
CREATE INDEX "blocks_expires_idx" ON "blocks" USING btree ("expires_at");--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_kind_ck" CHECK ("audit_events"."kind" in ('consent.grant', 'consent.revoke', 'partner.request', 'partner.response', 'access.denied', 'admin.devices.upsert', 'erasure.requested', 'erasure.completed', 'partner.access_check', 'partner.event', 'block.placed', 'admin.blocks.lift'));