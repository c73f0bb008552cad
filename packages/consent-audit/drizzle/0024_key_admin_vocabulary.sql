ALTER TABLE "anomalies" DROP CONSTRAINT "anomalies_kind_ck";--> statement-breakpoint
ALTER TABLE "anomalies" DROP CONSTRAINT "anomalies_subject_ck";--> statement-breakpoint
ALTER TABLE "blocks" DROP CONSTRAINT "blocks_kind_ck";--> statement-breakpoint
ALTER TABLE "blocks" DROP CONSTRAINT "blocks_subject_ck";--> statement-breakpoint
ALTER TABLE "anomalies" ADD CONSTRAINT "anomalies_kind_ck" CHECK ("anomalies"."kind" in ('mass_access_checks', 'enumeration', 'unusual_opening', 'credential_guessing', 'partner_credential_guessing', 'consent_probing', 'outside_vpn', 'mass_key_creation'));--> statement-breakpoint
ALTER TABLE "anomalies" ADD CONSTRAINT "anomalies_subject_ck" CHECK ("anomalies"."subject_type" in ('resident', 'ip', 'partner_client', 'resident_keys'));--> statement-breakpoint
ALTER TABLE "blocks" ADD CONSTRAINT "blocks_kind_ck" CHECK ("blocks"."kind" in ('mass_access_checks', 'enumeration', 'unusual_opening', 'credential_guessing', 'partner_credential_guessing', 'consent_probing', 'outside_vpn', 'mass_key_creation'));--> statement-breakpoint
ALTER TABLE "blocks" ADD CONSTRAINT "blocks_subject_ck" CHECK ("blocks"."subject_type" in ('resident', 'ip', 'partner_client', 'resident_keys'));