ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_kind_ck";--> statement-breakpoint
ALTER TABLE "video_sessions" DROP CONSTRAINT "video_sessions_end_reason_ck";--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "reason" text;--> statement-breakpoint
CREATE INDEX "audit_events_target_idx" ON "audit_events" USING btree ("target","seq");--> statement-breakpoint
CREATE INDEX "audit_events_result_idx" ON "audit_events" USING btree ("result","seq");--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_kind_ck" CHECK ("audit_events"."kind" in ('consent.grant', 'consent.revoke', 'partner.request', 'partner.response', 'access.denied', 'admin.devices.upsert', 'erasure.requested', 'erasure.completed', 'partner.access_check', 'partner.event', 'block.placed', 'admin.blocks.lift', 'admin.erasures.retry', 'admin.video_sessions.end'));--> statement-breakpoint
ALTER TABLE "video_sessions" ADD CONSTRAINT "video_sessions_end_reason_ck" CHECK ("video_sessions"."end_reason" is null or "video_sessions"."end_reason" in ('resident', 'consent_revoked', 'camera_removed', 'expired', 'failed', 'admin'));