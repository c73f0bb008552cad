CREATE TABLE "audit_events" (
	"seq" bigserial NOT NULL,
	"id" text PRIMARY KEY NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"kind" text NOT NULL,
	"source_app" text NOT NULL,
	"instance_id" text NOT NULL,
	"client_ip" text,
	"request_id" text,
	"user_id" text,
	"actor" text,
	"operation" text,
	"partner" text,
	"purpose" text,
	"target" text,
	"attempt" integer,
	"result" text NOT NULL,
	"error_code" text,
	"http_status" integer,
	"latency_ms" integer,
	"call_id" text,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	CONSTRAINT "audit_events_seq_uq" UNIQUE("seq")
);
--> statement-breakpoint
CREATE TABLE "consent_current" (
	"user_id" text NOT NULL,
	"purpose" text NOT NULL,
	"state" text NOT NULL,
	"notice_version" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "consent_current_pk" PRIMARY KEY("user_id","purpose"),
	CONSTRAINT "consent_current_purpose_ck" CHECK ("consent_current"."purpose" in ('intercom', 'barrier', 'video', 'faces', 'plates')),
	CONSTRAINT "consent_current_state_ck" CHECK ("consent_current"."state" in ('granted', 'revoked'))
);
--> statement-breakpoint
CREATE TABLE "consent_events" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"purpose" text NOT NULL,
	"action" text NOT NULL,
	"notice_version" integer,
	"channel" text NOT NULL,
	"method" text NOT NULL,
	"actor" text NOT NULL,
	"reason" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "consent_events_purpose_ck" CHECK ("consent_events"."purpose" in ('intercom', 'barrier', 'video', 'faces', 'plates')),
	CONSTRAINT "consent_events_action_ck" CHECK ("consent_events"."action" in ('grant', 'revoke')),
	CONSTRAINT "consent_events_channel_ck" CHECK ("consent_events"."channel" in ('app', 'web', 'admin')),
	CONSTRAINT "consent_events_grant_notice_ck" CHECK ("consent_events"."action" <> 'grant' or "consent_events"."notice_version" is not null)
);
--> statement-breakpoint
CREATE TABLE "devices" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"site_id" text NOT NULL,
	"partner" text NOT NULL,
	"partner_device_id" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "devices_partner_device_uq" UNIQUE("partner","partner_device_id"),
	CONSTRAINT "devices_kind_ck" CHECK ("devices"."kind" in ('door', 'gate', 'camera')),
	CONSTRAINT "devices_partner_ck" CHECK ("devices"."partner" in ('intercom', 'barrier'))
);
--> statement-breakpoint
CREATE TABLE "notices" (
	"purpose" text NOT NULL,
	"version" integer NOT NULL,
	"text" text NOT NULL,
	"text_sha256" text NOT NULL,
	"published_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "notices_pk" PRIMARY KEY("purpose","version"),
	CONSTRAINT "notices_purpose_ck" CHECK ("notices"."purpose" in ('intercom', 'barrier', 'video', 'faces', 'plates')),
	CONSTRAINT "notices_version_ck" CHECK ("notices"."version" > 0)
);
--> statement-breakpoint
ALTER TABLE "consent_current" ADD CONSTRAINT "consent_current_notice_fk" FOREIGN KEY ("purpose","notice_version") REFERENCES "public"."notices"("purpose","version") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_events" ADD CONSTRAINT "consent_events_notice_fk" FOREIGN KEY ("purpose","notice_version") REFERENCES "public"."notices"("purpose","version") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_events_user_idx" ON "audit_events" USING btree ("user_id","seq");--> statement-breakpoint
CREATE INDEX "audit_events_kind_idx" ON "audit_events" USING btree ("kind","seq");--> statement-breakpoint
CREATE INDEX "audit_events_operation_idx" ON "audit_events" USING btree ("operation","seq");--> statement-breakpoint
CREATE INDEX "audit_events_call_idx" ON "audit_events" USING btree ("call_id");--> statement-breakpoint
CREATE INDEX "consent_events_user_idx" ON "consent_events" USING btree ("user_id","purpose","at");--> statement-breakpoint
CREATE INDEX "devices_site_idx" ON "devices" USING btree ("site_id");