-- The two roles msnet needs: the schema owner (migrations) and the service role (owns nothing,
-- no BYPASSRLS, so row-level security applies to it), and msnet's database. As a superuser:
--   psql -v owner_password=… -v app_password=… -f deploy/initdb.sql
CREATE ROLE msnet_owner LOGIN PASSWORD :'owner_password' NOSUPERUSER NOCREATEROLE NOBYPASSRLS;
CREATE ROLE msnet_app LOGIN PASSWORD :'app_password' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
CREATE DATABASE msnet OWNER msnet_owner;

-- Let row-level security use the search indexes (see LEAKPROOF_FUNCTIONS in
-- src/msnet/db/embedded.py for why this is safe); a superuser only, in msnet's database.
\connect msnet
ALTER FUNCTION ts_match_vq(tsvector, tsquery) LEAKPROOF;
ALTER FUNCTION arraycontains(anyarray, anyarray) LEAKPROOF;
ALTER FUNCTION arrayoverlap(anyarray, anyarray) LEAKPROOF;
