CREATE TABLE "video_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"camera_id" text NOT NULL,
	"partner" text NOT NULL,
	"partner_session_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	"end_reason" text
);
--> statement-breakpoint
CREATE INDEX "video_sessions_user_idx" ON "video_sessions" USING btree ("user_id","ended_at");