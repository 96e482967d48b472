#!/usr/bin/env bash
# Creates the PostgreSQL role and database for a Minga server and prints the URL to configure.
# Run as root on the database host: setup-postgres.sh [ROLE] [DATABASE]  (default minga, minga)
set -euo pipefail
ROLE=${1:-minga}
DATABASE=${2:-minga}
HOST=${PGHOST_FOR_URL:-127.0.0.1}
PORT=${PGPORT:-5432}
case "$ROLE$DATABASE" in *[!a-z0-9_]*) echo "role and database: lowercase letters, digits, _" >&2; exit 2;; esac

psql_admin() { sudo -u postgres psql -v ON_ERROR_STOP=1 -qAt "$@"; }
# 32 random bytes, URL-safe, so the password needs no escaping in the URL.
PASSWORD=$(head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 40)

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" = 1 ]; then
  echo "role $ROLE exists: setting a new password"
  psql_admin -c "ALTER ROLE $ROLE WITH LOGIN PASSWORD '$PASSWORD'"
else
  # No superuser, no role creation, no database creation: it owns its database and nothing else.
  psql_admin -c "CREATE ROLE $ROLE WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$PASSWORD'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]; then
  psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE ENCODING 'UTF8' TEMPLATE template0"
fi
psql_admin -d "$DATABASE" -c "REVOKE ALL ON SCHEMA public FROM PUBLIC; GRANT ALL ON SCHEMA public TO $ROLE"

URL="postgresql://$ROLE:$PASSWORD@$HOST:$PORT/$DATABASE"
umask 077
mkdir -p /etc/minga-server
if [ -f /etc/minga-server/env ]; then
  sed -i '/^MINGA_SERVER_DATABASE_URL=/d' /etc/minga-server/env
fi
echo "MINGA_SERVER_DATABASE_URL=$URL" >> /etc/minga-server/env
echo "database ready; its URL is now in /etc/minga-server/env (root only):"
echo "  $URL"
echo "next: systemctl restart minga-server   (its ExecStartPre runs \`minga-server init\`)"
