CREATE TABLE "destruction_records" (
	"id" text PRIMARY KEY NOT NULL,
	"erasure_id" text NOT NULL,
	"user_id" text NOT NULL,
	"partner" text NOT NULL,
	"categories" text[] NOT NULL,
	"confirmed_by" text NOT NULL,
	"destroyed_at" timestamp with time zone NOT NULL,
	"requested_at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	"erased" jsonb,
	CONSTRAINT "destruction_records_erasureId_unique" UNIQUE("erasure_id"),
	CONSTRAINT "destruction_records_partner_ck" CHECK ("destruction_records"."partner" in ('intercom', 'barrier')),
	CONSTRAINT "destruction_records_confirmed_ck" CHECK ("destruction_records"."confirmed_by" in ('200 on DELETE', '204 on DELETE', 'status done on poll')),
	CONSTRAINT "destruction_records_categories_ck" CHECK (cardinality("destruction_records"."categories") > 0 and "destruction_records"."categories" <@ array['faces', 'plates']::text[])
);
--> statement-breakpoint
ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_kind_ck";--> statement-breakpoint
ALTER TABLE "erasure_requests" ADD COLUMN "overdue_since" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "destruction_records_destroyed_idx" ON "destruction_records" USING btree ("destroyed_at");--> statement-breakpoint
CREATE INDEX "destruction_records_user_idx" ON "destruction_records" USING btree ("user_id");--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_kind_ck" CHECK ("audit_events"."kind" in ('consent.grant', 'consent.revoke', 'partner.request', 'partner.response', 'access.denied', 'admin.devices.upsert', 'admin.units.upsert', 'erasure.requested', 'erasure.completed', 'partner.access_check', 'partner.event', 'block.placed', 'admin.blocks.lift', 'admin.erasures.retry', 'admin.erasures.records', 'erasure.overdue', 'admin.video_sessions.end', 'admin.keys.revoke', 'admin.audit.export', 'admin.journal.read', 'journal.erased'));