CREATE TABLE "partner_health" (
	"partner" text NOT NULL,
	"check" text NOT NULL,
	"state" text NOT NULL,
	"consecutive_failures" integer NOT NULL,
	"last_error" text,
	"since" timestamp with time zone NOT NULL,
	"notified" text,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "partner_health_partner_check_pk" PRIMARY KEY("partner","check")
);
--> statement-breakpoint
CREATE TABLE "partner_health_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"partner" text NOT NULL,
	"check" text NOT NULL,
	"from_state" text NOT NULL,
	"to_state" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"error" text
);
--> statement-breakpoint
CREATE INDEX "partner_health_events_at_idx" ON "partner_health_events" USING btree ("at");