-- One chain per writer: rows written before this migration form the chain 'legacy', in their seq
-- order (their hashes already cover seq, which is their chain_seq); new rows take seq from the
-- sequence, so it must start past them.
ALTER TABLE "audit_events" ADD COLUMN "chain_id" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "chain_seq" bigint;--> statement-breakpoint
UPDATE "audit_events" SET "chain_id" = 'legacy', "chain_seq" = "seq";--> statement-breakpoint
ALTER TABLE "audit_events" ALTER COLUMN "chain_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_events" ALTER COLUMN "chain_seq" SET NOT NULL;--> statement-breakpoint
SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), GREATEST((SELECT max("seq") FROM "audit_events"), 1), (SELECT count(*) > 0 FROM "audit_events"));--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_chain_uq" UNIQUE("chain_id","chain_seq");
