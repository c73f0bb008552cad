CREATE INDEX "audit_events_at_brin" ON "audit_events" USING brin ("at") WITH (autosummarize=true);--> statement-breakpoint
-- The audit screen's filter columns depend on one another (an `access.denied` row is `denied`, an
-- `intercom.open` is the intercom's): without these statistics the planner takes them to be
-- independent, guesses a pair of filters rare and reads every row of both instead of walking
-- one index down `seq`.
CREATE STATISTICS "audit_events_filter_stats" (dependencies, mcv) ON "kind", "operation", "result", "partner" FROM "audit_events";
