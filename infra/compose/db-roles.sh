#!/bin/sh
# The database roles of infra/postgres/roles.sql, in the PostgreSQL image (compose.yaml runs it):
#   roles   before the migrations: the roles, their passwords (from the secret files), the
#           database and schema privileges;
#   grants  after the migrations: roles.sql again, which now grants on the tables.
# The superuser's password comes from the postgres-password secret, never the environment file.
set -eu
PGPASSWORD="$(cat /run/secrets/postgres-password)"
export PGPASSWORD
psql -X -q -v ON_ERROR_STOP=1 -f /etc/propgate/roles.sql
[ "${1:-}" = "roles" ] || exit 0
for role in owner api readonly admin_app admin; do
  # The password travels as a psql variable (quoted by psql), never on a command line.
  psql -X -q -v ON_ERROR_STOP=1 -v role="propgate_${role}" \
    -v password="$(cat "/run/secrets/db-${role}-password")" <<'SQL'
ALTER ROLE :"role" PASSWORD :'password';
SQL
done
