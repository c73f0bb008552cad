CREATE TABLE "erasure_requests" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"partner" text NOT NULL,
	"categories" text[] NOT NULL,
	"reason" text NOT NULL,
	"requested_by" text NOT NULL,
	"requested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"completed_at" timestamp with time zone,
	"partner_response" jsonb,
	CONSTRAINT "erasure_requests_partner_ck" CHECK ("erasure_requests"."partner" in ('intercom', 'barrier')),
	CONSTRAINT "erasure_requests_reason_ck" CHECK ("erasure_requests"."reason" in ('consent_revoked', 'admin_request')),
	CONSTRAINT "erasure_requests_status_ck" CHECK ("erasure_requests"."status" in ('pending', 'done')),
	CONSTRAINT "erasure_requests_categories_ck" CHECK (cardinality("erasure_requests"."categories") > 0 and "erasure_requests"."categories" <@ array['faces', 'plates']::text[]),
	CONSTRAINT "erasure_requests_done_ck" CHECK (("erasure_requests"."status" = 'done') = ("erasure_requests"."completed_at" is not null)),
	CONSTRAINT "erasure_requests_attempts_ck" CHECK ("erasure_requests"."attempts" >= 0)
);
--> statement-breakpoint
CREATE INDEX "erasure_requests_due_idx" ON "erasure_requests" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "erasure_requests_user_idx" ON "erasure_requests" USING btree ("user_id","requested_at");--> statement-breakpoint
CREATE INDEX "erasure_requests_requested_idx" ON "erasure_requests" USING btree ("requested_at");