CREATE TABLE "guest_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"partner" text NOT NULL,
	"partner_key_id" text NOT NULL,
	"site_id" text NOT NULL,
	"device_ids" text[] NOT NULL,
	"valid_from" timestamp with time zone NOT NULL,
	"valid_until" timestamp with time zone NOT NULL,
	"max_uses" integer,
	"label" text,
	"state" text DEFAULT 'active' NOT NULL,
	"end_reason" text,
	"end_requested_at" timestamp with time zone,
	"end_attempts" integer DEFAULT 0 NOT NULL,
	"end_next_attempt_at" timestamp with time zone,
	"end_last_error" text,
	"ended_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"idempotency_key" text,
	CONSTRAINT "guest_keys_partner_ck" CHECK ("guest_keys"."partner" in ('intercom', 'barrier')),
	CONSTRAINT "guest_keys_state_ck" CHECK ("guest_keys"."state" in ('active', 'ending', 'ended')),
	CONSTRAINT "guest_keys_end_reason_ck" CHECK ("guest_keys"."end_reason" is null or "guest_keys"."end_reason" in ('resident', 'consent_revoked', 'site_removed', 'blocked', 'erased', 'admin', 'expired')),
	CONSTRAINT "guest_keys_ending_has_reason_ck" CHECK ("guest_keys"."state" = 'active' or "guest_keys"."end_reason" is not null),
	CONSTRAINT "guest_keys_ended_at_ck" CHECK (("guest_keys"."state" = 'ended') = ("guest_keys"."ended_at" is not null)),
	CONSTRAINT "guest_keys_validity_ck" CHECK ("guest_keys"."valid_until" > "guest_keys"."valid_from"),
	CONSTRAINT "guest_keys_devices_ck" CHECK (cardinality("guest_keys"."device_ids") between 1 and 20),
	CONSTRAINT "guest_keys_max_uses_ck" CHECK ("guest_keys"."max_uses" is null or "guest_keys"."max_uses" > 0),
	CONSTRAINT "guest_keys_label_ck" CHECK ("guest_keys"."label" is null or char_length("guest_keys"."label") <= 40),
	CONSTRAINT "guest_keys_end_attempts_ck" CHECK ("guest_keys"."end_attempts" >= 0)
);
--> statement-breakpoint
ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_kind_ck";--> statement-breakpoint
ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_operation_ck";--> statement-breakpoint
ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_purpose_ck";--> statement-breakpoint
ALTER TABLE "consent_current" DROP CONSTRAINT "consent_current_purpose_ck";--> statement-breakpoint
ALTER TABLE "consent_events" DROP CONSTRAINT "consent_events_purpose_ck";--> statement-breakpoint
ALTER TABLE "notices" DROP CONSTRAINT "notices_purpose_ck";--> statement-breakpoint
CREATE INDEX "guest_keys_user_active_idx" ON "guest_keys" USING btree ("user_id","created_at") WHERE "guest_keys"."state" = 'active';--> statement-breakpoint
CREATE INDEX "guest_keys_end_due_idx" ON "guest_keys" USING btree ("end_next_attempt_at") WHERE "guest_keys"."state" = 'ending';--> statement-breakpoint
CREATE INDEX "guest_keys_expiry_idx" ON "guest_keys" USING btree ("valid_until") WHERE "guest_keys"."state" = 'active';--> statement-breakpoint
CREATE UNIQUE INDEX "guest_keys_idempotency_uq" ON "guest_keys" USING btree ("user_id","idempotency_key");--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_kind_ck" CHECK ("audit_events"."kind" in ('consent.grant', 'consent.revoke', 'partner.request', 'partner.response', 'access.denied', 'admin.devices.upsert', 'admin.units.upsert', 'erasure.requested', 'erasure.completed', 'partner.access_check', 'partner.event', 'block.placed', 'admin.blocks.lift', 'admin.erasures.retry', 'admin.video_sessions.end', 'admin.keys.revoke', 'admin.audit.export', 'admin.journal.read', 'journal.erased'));--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_operation_ck" CHECK ("audit_events"."operation" is null or "audit_events"."operation" in ('intercom.open', 'barrier.open', 'video.create_session', 'video.end_session', 'plates.list', 'plates.add', 'plates.remove', 'faces.list', 'faces.enroll', 'faces.remove', 'keys.create', 'keys.list', 'keys.delete', 'subjects.erase', 'health', 'access_check.key', 'access_check.face', 'access_check.plate', 'door.opened', 'device.offline', 'device.online', 'call.incoming', 'call.ended', 'access.granted', 'access.denied'));--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_purpose_ck" CHECK ("audit_events"."purpose" is null or "audit_events"."purpose" in ('intercom', 'barrier', 'video', 'faces', 'plates', 'guests', 'journal'));--> statement-breakpoint
ALTER TABLE "consent_current" ADD CONSTRAINT "consent_current_purpose_ck" CHECK ("consent_current"."purpose" in ('intercom', 'barrier', 'video', 'faces', 'plates', 'guests', 'journal'));--> statement-breakpoint
ALTER TABLE "consent_events" ADD CONSTRAINT "consent_events_purpose_ck" CHECK ("consent_events"."purpose" in ('intercom', 'barrier', 'video', 'faces', 'plates', 'guests', 'journal'));--> statement-breakpoint
ALTER TABLE "notices" ADD CONSTRAINT "notices_purpose_ck" CHECK ("notices"."purpose" in ('intercom', 'barrier', 'video', 'faces', 'plates', 'guests', 'journal'));