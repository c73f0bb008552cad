CREATE INDEX "erasure_requests_done_idx" ON "erasure_requests" USING btree ("completed_at") WHERE "erasure_requests"."status" = 'done';--> statement-breakpoint
CREATE INDEX "guest_keys_ended_idx" ON "guest_keys" USING btree ("ended_at") WHERE "guest_keys"."state" = 'ended';--> statement-breakpoint
CREATE INDEX "partner_subjects_updated_idx" ON "partner_subjects" USING btree ("partner","updated_at");--> statement-breakpoint
CREATE INDEX "video_sessions_ended_idx" ON "video_sessions" USING btree ("ended_at") WHERE "video_sessions"."ended_at" is not null;--> statement-breakpoint
CREATE INDEX "vpn_events_at_idx" ON "vpn_events" USING btree ("at");--> statement-breakpoint
CREATE INDEX "webhook_outbox_delivered_idx" ON "webhook_outbox" USING btree ("delivered_at") WHERE "webhook_outbox"."status" = 'delivered';