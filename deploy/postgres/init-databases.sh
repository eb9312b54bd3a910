#!/bin/bash
# First start of the PostgreSQL container (docker-entrypoint-initdb.d): the roles and databases of
# semsync and of Temporal, passwords from the mounted secrets. Runs once, on an empty data volume.
#
#   semsync_owner  owns the semsync database and runs its migrations (`python -m starter migrate`)
#   semsync_app    what the workers use: LOGIN, NOBYPASSRLS, owns nothing, so row-level security applies
#   semsync_catalog writes the catalog (`catalog load`, discovery): LOGIN, NOBYPASSRLS; the app only reads it
#   temporal       owns Temporal's `temporal` and `temporal_visibility` databases
set -euo pipefail

secret() { tr -d '\r\n' < "/run/secrets/$1"; }

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_pw="$(secret semsync_owner_password)" \
  -v app_pw="$(secret semsync_app_password)" \
  -v catalog_pw="$(secret semsync_catalog_password)" \
  -v temporal_pw="$(secret temporal_db_password)" <<'SQL'
CREATE ROLE semsync_owner LOGIN PASSWORD :'owner_pw';
CREATE ROLE semsync_app LOGIN NOBYPASSRLS PASSWORD :'app_pw';
CREATE ROLE semsync_catalog LOGIN NOBYPASSRLS PASSWORD :'catalog_pw';
CREATE ROLE temporal LOGIN PASSWORD :'temporal_pw';
CREATE DATABASE semsync OWNER semsync_owner;
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL

# PostgreSQL 15+ lets no role create in `public` by default: the owner gets the schema.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname semsync \
  -c 'ALTER SCHEMA public OWNER TO semsync_owner'
