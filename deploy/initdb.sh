#!/bin/sh
# Run once by the postgres image on an empty volume: msnet's two roles, with the passwords of
# deploy/.env, and its database (deploy/initdb.sql).
set -eu
psql -v ON_ERROR_STOP=1 --username postgres \
    -v owner_password="$MSNET_OWNER_PASSWORD" -v app_password="$MSNET_APP_PASSWORD" \
    -f /msnet/initdb.sql
