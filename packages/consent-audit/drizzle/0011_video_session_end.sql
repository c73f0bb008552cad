ALTER TABLE "erasure_requests" DROP CONSTRAINT "erasure_requests_status_ck";--> statement-breakpoint
ALTER TABLE "erasure_requests" DROP CONSTRAINT "erasure_requests_done_ck";--> statement-breakpoint
ALTER TABLE "video_sessions" ADD COLUMN "site_id" text;--> statement-breakpoint
ALTER TABLE "video_sessions" ADD COLUMN "session_path" text;--> statement-breakpoint
ALTER TABLE "video_sessions" ADD COLUMN "end_requested_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "video_sessions" ADD COLUMN "end_attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "video_sessions" ADD COLUMN "end_next_attempt_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "video_sessions" ADD COLUMN "end_last_error" text;--> statement-breakpoint
CREATE INDEX "video_sessions_open_idx" ON "video_sessions" USING btree ("expires_at") WHERE "video_sessions"."ended_at" is null and "video_sessions"."partner_session_id" is not null;--> statement-breakpoint
ALTER TABLE "erasure_requests" ADD CONSTRAINT "erasure_requests_status_ck" CHECK ("erasure_requests"."status" in ('pending', 'done', 'accepted'));--> statement-breakpoint
ALTER TABLE "erasure_requests" ADD CONSTRAINT "erasure_requests_done_ck" CHECK (("erasure_requests"."status" <> 'pending') = ("erasure_requests"."completed_at" is not null));--> statement-breakpoint
-- Reasons written before the list existed: the resident's own end was "ended".
UPDATE "video_sessions" SET "end_reason" = CASE WHEN "end_reason" IN ('expired', 'failed') THEN "end_reason" ELSE 'resident' END WHERE "end_reason" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "video_sessions" ADD CONSTRAINT "video_sessions_end_reason_ck" CHECK ("video_sessions"."end_reason" is null or "video_sessions"."end_reason" in ('resident', 'consent_revoked', 'camera_removed', 'expired', 'failed'));--> statement-breakpoint
ALTER TABLE "video_sessions" ADD CONSTRAINT "video_sessions_end_attempts_ck" CHECK ("video_sessions"."end_attempts" >= 0);