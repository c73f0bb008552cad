-- Propgate's PostgreSQL roles and grants: least privilege (invariant 5, docs/architecture.md).
--
--   psql -v ON_ERROR_STOP=1 -f infra/postgres/roles.sql "postgres://<superuser>@<host>/<propgate db>"
--   (role names are psql variables: -v owner_role=… -v api_role=… -v admin_role=… -v readonly_role=…
--    -v admin_app_role=…)
--
-- Run it once before the first migration (roles, database and schema privileges) and again
-- after every migration (table grants). It converges: table privileges of the four app roles
-- are revoked and granted again in one transaction, so what is granted below is all they have.
-- A table that is not named here gets nothing for api, admin and the admin app (readonly may
-- read every table but admin_sessions). No role may UPDATE, DELETE or TRUNCATE anything
-- audited, but for the retention job (admin_role) nulling audit rows' personal fields; the code
-- DELETEs nothing but the admin app's own expired or ended sessions, the
-- journal the api prunes, and what the retention job (`propgate retention run`, as admin_role)
-- prunes past its period (docs/data-retention.md).

\set ON_ERROR_STOP on

\if :{?owner_role}
\else
  \set owner_role propgate_owner
\endif
\if :{?api_role}
\else
  \set api_role propgate_api
\endif
\if :{?admin_role}
\else
  \set admin_role propgate_admin
\endif
\if :{?readonly_role}
\else
  \set readonly_role propgate_readonly
\endif
\if :{?admin_app_role}
\else
  \set admin_app_role propgate_admin_app
\endif

BEGIN;

-- Refuse names that would demote or reuse something that is not ours.
SELECT format('DO $refuse$ BEGIN RAISE EXCEPTION %L; END $refuse$', problem)
FROM (
  SELECT 'roles.sql: the five role names must be distinct' AS problem
  WHERE (SELECT count(DISTINCT r) FROM unnest(ARRAY[:'owner_role', :'api_role', :'admin_role', :'readonly_role', :'admin_app_role']) AS r) <> 5
  UNION ALL
  SELECT format('roles.sql: role %s exists with superuser, createrole, replication or bypassrls; pick another name', rolname)
  FROM pg_roles
  WHERE rolname IN (:'owner_role', :'api_role', :'admin_role', :'readonly_role', :'admin_app_role')
    AND (rolsuper OR rolcreaterole OR rolreplication OR rolbypassrls)
  UNION ALL
  SELECT format('roles.sql: %s is a reserved role name', r)
  FROM unnest(ARRAY[:'owner_role', :'api_role', :'admin_role', :'readonly_role', :'admin_app_role']) AS r
  WHERE r LIKE 'pg\_%' OR r = 'public'
) AS problems
\gexec

-- 1. Roles. LOGIN without a password: set one (\password) or use certificate auth; until then
--    only trust/peer rules in pg_hba.conf could let them in.
SELECT format('CREATE ROLE %I LOGIN', r)
FROM unnest(ARRAY[:'owner_role', :'api_role', :'admin_role', :'readonly_role', :'admin_app_role']) AS r
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r)
\gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT', r)
FROM unnest(ARRAY[:'owner_role', :'api_role', :'admin_role', :'readonly_role', :'admin_app_role']) AS r
\gexec

COMMENT ON ROLE :"owner_role" IS 'Propgate: owns the schema objects; only `bun run migrate` connects as it';
COMMENT ON ROLE :"api_role" IS 'Propgate: the api service; audit and VPN log are INSERT-only';
COMMENT ON ROLE :"admin_role" IS 'Propgate: operators and the devices CLI; reads audit, manages devices and consents';
COMMENT ON ROLE :"readonly_role" IS 'Propgate: reporting and auditors; SELECT only';
COMMENT ON ROLE :"admin_app_role" IS 'Propgate: the admin web app; its sessions table and nothing else';

-- 2. The database: nobody connects or makes temp tables by default; the owner may create the
--    drizzle schema (migrations' bookkeeping).
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC, :"api_role", :"admin_role", :"readonly_role", :"admin_app_role";
GRANT CONNECT ON DATABASE :"DBNAME" TO :"api_role", :"admin_role", :"readonly_role", :"admin_app_role";
GRANT CONNECT, CREATE ON DATABASE :"DBNAME" TO :"owner_role";

-- 3. Schema public: only the owner creates objects in it.
REVOKE ALL ON SCHEMA public FROM PUBLIC, :"api_role", :"admin_role", :"readonly_role", :"admin_app_role";
GRANT USAGE, CREATE ON SCHEMA public TO :"owner_role";
GRANT USAGE ON SCHEMA public TO :"api_role", :"admin_role", :"readonly_role", :"admin_app_role";
-- Functions the owner creates later are not executable by everyone.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- 4. Tables, once the migrations have created them.
SELECT
  to_regclass('public.audit_events') IS NOT NULL AS propgate_migrated,
  to_regclass('public.vpn_events') IS NOT NULL AS has_vpn_events,
  to_regclass('public.partner_subjects') IS NOT NULL AS has_partner_subjects,
  to_regclass('public.audit_checkpoints') IS NOT NULL AS has_audit_checkpoints,
  to_regclass('public.audit_redactions') IS NOT NULL AS has_audit_redactions,
  to_regclass('public.blocks') IS NOT NULL AS has_blocks,
  to_regclass('public.partner_health') IS NOT NULL AS has_partner_health,
  to_regclass('public.admin_sessions') IS NOT NULL AS has_admin_sessions,
  to_regclass('public.journal_entries') IS NOT NULL AS has_journal,
  to_regclass('public.guest_keys') IS NOT NULL AS has_guest_keys,
  to_regclass('public.destruction_records') IS NOT NULL AS has_destruction_records,
  to_regnamespace('drizzle') IS NOT NULL AS has_drizzle_schema
\gset

\if :propgate_migrated
  REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, :"api_role", :"admin_role", :"readonly_role", :"admin_app_role";
  REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, :"api_role", :"admin_role", :"readonly_role", :"admin_app_role";
  REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC, :"api_role", :"admin_role", :"readonly_role", :"admin_app_role";

  -- api: the service. Audit is INSERT-only (plus SELECT: each append reads the chain's last row,
  -- and admin.audit.list). FOR SHARE / FOR UPDATE locks need UPDATE, hence UPDATE where rows are
  -- locked. devices: the api serves admin.devices.upsert (operator token, audited); revoke
  -- INSERT/UPDATE on devices if those procedures move to a process connecting as admin_role.
  -- consent_events is append-only; SELECT for the admin resident screen's consent history.
  GRANT SELECT ON notices TO :"api_role";
  GRANT SELECT, INSERT, UPDATE ON devices TO :"api_role";
  GRANT SELECT, INSERT, UPDATE ON consent_current TO :"api_role";
  GRANT SELECT, INSERT ON consent_events TO :"api_role";
  GRANT SELECT, INSERT ON audit_events TO :"api_role";
  GRANT SELECT, INSERT, UPDATE ON video_sessions TO :"api_role";
  GRANT SELECT, INSERT, UPDATE ON erasure_requests TO :"api_role";

  -- admin: reads everything, manages devices and consents; its changes are audited (INSERT only).
  GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"admin_role";
  GRANT INSERT, UPDATE ON devices TO :"admin_role";
  GRANT INSERT, UPDATE ON consent_current TO :"admin_role";
  GRANT INSERT ON consent_events TO :"admin_role";
  GRANT INSERT ON audit_events TO :"admin_role";
  GRANT INSERT ON erasure_requests TO :"admin_role";
  -- An admin's revoke of `video` consent queues the resident's sessions to end (same transaction).
  GRANT UPDATE ON video_sessions TO :"admin_role";

  -- The retention job (`propgate retention run`) connects as admin_role and deletes, past their
  -- periods, exactly these: history of revoked consents (with their state rows), confirmed
  -- erasure requests and ended video sessions. Its other tables follow below.
  GRANT DELETE ON consent_events, consent_current, erasure_requests, video_sessions TO :"admin_role";

  -- readonly: reporting and auditors.
  GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"readonly_role";

  \if :has_vpn_events
    -- The VPN connection log is append-only like the audit (written by the health-probe's
    -- collector); only the retention job deletes events past VPN_EVENT_RETENTION_DAYS.
    GRANT SELECT, INSERT ON vpn_events TO :"api_role";
    GRANT DELETE ON vpn_events TO :"admin_role";
  \endif
  \if :has_partner_subjects
    GRANT SELECT, INSERT, UPDATE ON partner_subjects TO :"api_role";
    -- Pseudonyms of residents gone quiet: pruned by the retention job.
    GRANT DELETE ON partner_subjects TO :"admin_role";
  \endif
  \if :has_audit_checkpoints
    -- Signed checkpoints of the audit chains: append-only like the chains they sign.
    GRANT SELECT, INSERT ON audit_checkpoints TO :"api_role";
  \endif
  \if :has_audit_redactions
    -- Retention (the CLI, as admin): it may only null the personal fields of old audit rows and
    -- mark them with a signed redaction record; every other column stays as written. The api
    -- reads the records for admin.audit.verify.
    GRANT UPDATE (user_id, client_ip, target, actor, redaction_id, redacted_digest) ON audit_events TO :"admin_role";
    GRANT INSERT ON audit_redactions TO :"admin_role";
    GRANT SELECT ON audit_redactions TO :"api_role";
  \endif
  \if :has_blocks
    -- Anomalies and blocks: the api's rules write them (counts raised, blocks lifted by admins).
    GRANT SELECT, INSERT, UPDATE ON anomalies, blocks TO :"api_role";
    -- Old anomalies and blocks that are over: pruned by the retention job.
    GRANT DELETE ON anomalies, blocks TO :"admin_role";
  \endif
  \if :has_partner_health
    -- The health probe (connecting as the api role, like the VPN collector): the checks' state,
    -- and their transitions append-only.
    GRANT SELECT, INSERT, UPDATE ON partner_health TO :"api_role";
    GRANT SELECT, INSERT ON partner_health_events TO :"api_role";
  \endif
  \if :has_journal
    -- The residents' journal: the api appends, erases (a revoke) and prunes it; the webhook
    -- outbox goes with its entries (the cascade runs as the owner). Units are mapped by
    -- operators (`propgate units import`, as admin_role); memberships follow residents' tokens;
    -- receipts make partner event posts idempotent and are pruned.
    GRANT SELECT, INSERT, DELETE ON journal_entries TO :"api_role";
    GRANT SELECT, INSERT, UPDATE ON webhook_outbox TO :"api_role";
    GRANT SELECT ON units TO :"api_role";
    GRANT SELECT, INSERT, UPDATE, DELETE ON unit_residents TO :"api_role";
    GRANT SELECT, INSERT, DELETE ON partner_event_receipts TO :"api_role";
    -- An admin's revoke of `journal` consent erases the resident's journal.
    GRANT DELETE ON journal_entries TO :"admin_role";
    GRANT INSERT, UPDATE ON units TO :"admin_role";
    -- The retention job prunes the journal too (JOURNAL_RETENTION_DAYS), delivered webhook
    -- messages and old partner event receipts.
    GRANT DELETE ON webhook_outbox, partner_event_receipts TO :"admin_role";
  \endif
  \if :has_guest_keys
    -- Guest keys (never their codes): the api records, lists and ends them (its end queue);
    -- an admin's revoke of `guests` consent queues the resident's keys in the same transaction.
    GRANT SELECT, INSERT, UPDATE ON guest_keys TO :"api_role";
    GRANT UPDATE ON guest_keys TO :"admin_role";
    -- Ended or lapsed keys past GUEST_KEY_RETENTION_DAYS: pruned by the retention job.
    GRANT DELETE ON guest_keys TO :"admin_role";
  \endif
  \if :has_destruction_records
    -- Records of confirmed erasures (RKN Order No. 179): the erasure worker writes them, the
    -- admin export reads them; append-only, like the audit.
    GRANT SELECT, INSERT ON destruction_records TO :"api_role";
    -- Kept DESTRUCTION_RECORD_YEARS, then deleted by the retention job; nobody rewrites one.
    GRANT DELETE ON destruction_records TO :"admin_role";
  \endif
  \if :has_admin_sessions
    -- The admin app's sessions: its only table, where it signs admins in and out and deletes
    -- expired rows. Nobody else reads them (a row is useless without the app's key anyway).
    REVOKE ALL ON admin_sessions FROM :"admin_role", :"readonly_role";
    GRANT SELECT, INSERT, UPDATE, DELETE ON admin_sessions TO :"admin_app_role";
  \endif

  -- Sequences behind the columns a role may INSERT into (bigserial ids, audit_events.seq: the
  -- global reading order; a row's place in its chain is chain_seq, set by the writer).
  SELECT format('GRANT USAGE ON SEQUENCE %s TO %I', s.oid::regclass, r.role)
  FROM pg_class s
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
  JOIN pg_class t ON t.oid = d.refobjid
  CROSS JOIN (VALUES (:'api_role'), (:'admin_role')) AS r(role)
  WHERE s.relkind = 'S'
    AND t.relnamespace = 'public'::regnamespace
    AND has_table_privilege(r.role, t.oid, 'INSERT')
  \gexec

  -- Objects someone other than the owner created (e.g. migrated as a superuser before this file
  -- existed): say so; `REASSIGN OWNED BY <that role> TO <owner_role>` in this database fixes it.
  SELECT count(*) > 0 AS has_foreign_owned, string_agg(c.oid::regclass::text, ', ') AS foreign_owned
  FROM pg_class c
  WHERE c.relnamespace IN ('public'::regnamespace, coalesce(to_regnamespace('drizzle'), 'public'::regnamespace))
    AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
    AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = :'owner_role')
  \gset
  \if :has_foreign_owned
    \warn 'roles.sql: not owned by ' :owner_role ': ' :foreign_owned
  \endif
\else
  \echo 'roles.sql: no Propgate tables yet; run the migrations as the owner role, then this file again'
\endif

-- 5. drizzle's bookkeeping: the api reads it for /readyz, nobody but the owner writes it.
\if :has_drizzle_schema
  REVOKE ALL ON SCHEMA drizzle FROM PUBLIC, :"api_role", :"admin_role", :"readonly_role", :"admin_app_role";
  REVOKE ALL ON ALL TABLES IN SCHEMA drizzle FROM PUBLIC, :"api_role", :"admin_role", :"readonly_role", :"admin_app_role";
  REVOKE ALL ON ALL SEQUENCES IN SCHEMA drizzle FROM PUBLIC, :"api_role", :"admin_role", :"readonly_role", :"admin_app_role";
  GRANT USAGE ON SCHEMA drizzle TO :"api_role", :"readonly_role";
  GRANT SELECT ON ALL TABLES IN SCHEMA drizzle TO :"api_role", :"readonly_role";
\endif

COMMIT;
