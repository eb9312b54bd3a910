#!/bin/sh
# Creates the secret files docker-compose.yml mounts (deploy/secrets/, git-ignored), with random
# passwords. Existing files are kept, so a second run changes nothing; delete one to rotate it (and
# change the role's password in PostgreSQL to match).
set -eu
SECRETS_DIR="${SECRETS_DIR:-$(dirname "$0")/secrets}"
mkdir -p "$SECRETS_DIR"
# Compose (without Swarm) bind-mounts each file as it is, owner and mode included, and the containers
# read them as other users (postgres, temporal, semsync uid 10001): the files are world-readable and
# the directory is closed to everyone but its owner on the host.
chmod 700 "$SECRETS_DIR"
cd "$SECRETS_DIR"
umask 022

password() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
keep_or_write() { [ -s "$1" ] || printf '%s\n' "$2" > "$1"; }

for name in postgres_password semsync_owner_password semsync_app_password semsync_catalog_password \
    temporal_db_password grafana_admin_password; do
  keep_or_write "$name" "$(password)"
done
# the URLs semsync reads (SEMSYNC_DATABASE__URL_FILE, SEMSYNC_DATABASE__ADMIN_URL_FILE)
keep_or_write semsync_database_url \
  "postgresql+asyncpg://semsync_app:$(tr -d '\n' < semsync_app_password)@postgres:5432/semsync"
keep_or_write semsync_admin_url \
  "postgresql+asyncpg://semsync_owner:$(tr -d '\n' < semsync_owner_password)@postgres:5432/semsync"
keep_or_write semsync_catalog_url \
  "postgresql+asyncpg://semsync_catalog:$(tr -d '\n' < semsync_catalog_password)@postgres:5432/semsync"
# the Fernet key that encrypts the tenants' semantic layer secrets at rest (SEMSYNC_SECRETS__KEYS_FILE):
# url-safe base64 of 32 random bytes; to rotate, see the README ("Secrets at rest")
keep_or_write semsync_secrets_keys "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n')"
echo "secrets in $(pwd): $(ls | tr '\n' ' ')"
