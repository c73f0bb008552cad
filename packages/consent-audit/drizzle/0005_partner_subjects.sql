CREATE TABLE "partner_subjects" (
	"partner" text NOT NULL,
	"subject" text NOT NULL,
	"user_id" text NOT NULL,
	"sites" text[] NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "partner_subjects_pk" PRIMARY KEY("partner","subject"),
	CONSTRAINT "partner_subjects_partner_ck" CHECK ("partner_subjects"."partner" in ('intercom', 'barrier'))
);
--> statement-breakpoint
CREATE INDEX "partner_subjects_user_idx" ON "partner_subjects" USING btree ("user_id");