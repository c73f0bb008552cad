CREATE TABLE "journal_entries" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "journal_entries_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"id" text NOT NULL,
	"user_id" text NOT NULL,
	"kind" text NOT NULL,
	"device_id" text,
	"camera_id" text,
	"unit_id" text,
	"method" text,
	"outcome" text,
	"duration_seconds" integer,
	"occurred_at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	"source_event_id" text NOT NULL,
	CONSTRAINT "journal_entries_id_uq" UNIQUE("id"),
	CONSTRAINT "journal_entries_kind_ck" CHECK ("journal_entries"."kind" in ('door.opened', 'device.offline', 'device.online', 'call.incoming', 'call.ended', 'access.granted', 'access.denied')),
	CONSTRAINT "journal_entries_method_ck" CHECK ("journal_entries"."method" is null or "journal_entries"."method" in ('app', 'key', 'code', 'face', 'plate', 'call')),
	CONSTRAINT "journal_entries_outcome_ck" CHECK ("journal_entries"."outcome" is null or "journal_entries"."outcome" in ('answered', 'missed')),
	CONSTRAINT "journal_entries_duration_ck" CHECK ("journal_entries"."duration_seconds" is null or "journal_entries"."duration_seconds" >= 0)
);
--> statement-breakpoint
CREATE TABLE "partner_event_receipts" (
	"partner" text NOT NULL,
	"partner_event_id" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"audit_event_id" text NOT NULL,
	CONSTRAINT "partner_event_receipts_pk" PRIMARY KEY("partner","partner_event_id"),
	CONSTRAINT "partner_event_receipts_partner_ck" CHECK ("partner_event_receipts"."partner" in ('intercom', 'barrier')),
	CONSTRAINT "partner_event_receipts_id_ck" CHECK (char_length("partner_event_receipts"."partner_event_id") <= 128)
);
--> statement-breakpoint
CREATE TABLE "unit_residents" (
	"unit_id" text NOT NULL,
	"user_id" text NOT NULL,
	"confirmed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "unit_residents_pk" PRIMARY KEY("unit_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "units" (
	"id" text PRIMARY KEY NOT NULL,
	"partner" text NOT NULL,
	"partner_unit_id" text NOT NULL,
	"site_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "units_partner_unit_uq" UNIQUE("partner","partner_unit_id"),
	CONSTRAINT "units_partner_ck" CHECK ("units"."partner" in ('intercom', 'barrier'))
);
--> statement-breakpoint
CREATE TABLE "webhook_outbox" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "webhook_outbox_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"id" text NOT NULL,
	"user_id" text NOT NULL,
	"journal_seq" bigint NOT NULL,
	"event_type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"priority" smallint NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"leased_until" timestamp with time zone,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "webhook_outbox_id_uq" UNIQUE("id"),
	CONSTRAINT "webhook_outbox_status_ck" CHECK ("webhook_outbox"."status" in ('pending', 'delivered')),
	CONSTRAINT "webhook_outbox_event_type_ck" CHECK ("webhook_outbox"."event_type" in ('door.opened', 'device.offline', 'device.online', 'call.incoming', 'call.ended', 'access.granted', 'access.denied')),
	CONSTRAINT "webhook_outbox_priority_ck" CHECK ("webhook_outbox"."priority" in (0, 1)),
	CONSTRAINT "webhook_outbox_attempts_ck" CHECK ("webhook_outbox"."attempts" >= 0),
	CONSTRAINT "webhook_outbox_delivered_ck" CHECK (("webhook_outbox"."status" = 'delivered') = ("webhook_outbox"."delivered_at" is not null))
);
--> statement-breakpoint
ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_kind_ck";--> statement-breakpoint
ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_purpose_ck";--> statement-breakpoint
ALTER TABLE "consent_current" DROP CONSTRAINT "consent_current_purpose_ck";--> statement-breakpoint
ALTER TABLE "consent_events" DROP CONSTRAINT "consent_events_purpose_ck";--> statement-breakpoint
ALTER TABLE "notices" DROP CONSTRAINT "notices_purpose_ck";--> statement-breakpoint
ALTER TABLE "webhook_outbox" ADD CONSTRAINT "webhook_outbox_journal_seq_journal_entries_seq_fk" FOREIGN KEY ("journal_seq") REFERENCES "public"."journal_entries"("seq") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "journal_entries_user_idx" ON "journal_entries" USING btree ("user_id","seq" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "journal_entries_user_device_idx" ON "journal_entries" USING btree ("user_id","device_id","seq" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "journal_entries_recorded_idx" ON "journal_entries" USING btree ("recorded_at");--> statement-breakpoint
CREATE INDEX "partner_event_receipts_received_idx" ON "partner_event_receipts" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "unit_residents_user_idx" ON "unit_residents" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "webhook_outbox_due_idx" ON "webhook_outbox" USING btree ("status","priority","next_attempt_at");--> statement-breakpoint
CREATE INDEX "webhook_outbox_user_pending_idx" ON "webhook_outbox" USING btree ("user_id","seq") WHERE "webhook_outbox"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "webhook_outbox_journal_idx" ON "webhook_outbox" USING btree ("journal_seq");--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_kind_ck" CHECK ("audit_events"."kind" in ('consent.grant', 'consent.revoke', 'partner.request', 'partner.response', 'access.denied', 'admin.devices.upsert', 'erasure.requested', 'erasure.completed', 'partner.access_check', 'partner.event', 'block.placed', 'admin.blocks.lift', 'admin.erasures.retry', 'admin.video_sessions.end', 'admin.audit.export', 'journal.erased'));--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_purpose_ck" CHECK ("audit_events"."purpose" is null or "audit_events"."purpose" in ('intercom', 'barrier', 'video', 'faces', 'plates', 'journal'));--> statement-breakpoint
ALTER TABLE "consent_current" ADD CONSTRAINT "consent_current_purpose_ck" CHECK ("consent_current"."purpose" in ('intercom', 'barrier', 'video', 'faces', 'plates', 'journal'));--> statement-breakpoint
ALTER TABLE "consent_events" ADD CONSTRAINT "consent_events_purpose_ck" CHECK ("consent_events"."purpose" in ('intercom', 'barrier', 'video', 'faces', 'plates', 'journal'));--> statement-breakpoint
ALTER TABLE "notices" ADD CONSTRAINT "notices_purpose_ck" CHECK ("notices"."purpose" in ('intercom', 'barrier', 'video', 'faces', 'plates', 'journal'));