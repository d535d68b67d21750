-- The two roles msnet needs: the schema owner (migrations) and the service role (owns nothing,
-- no BYPASSRLS, so row-level security applies to it). Change the passwords.
CREATE ROLE msnet_owner LOGIN PASSWORD 'change-me-too';
CREATE ROLE msnet_app LOGIN PASSWORD 'change-me-too' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE DATABASE msnet OWNER msnet_owner;

-- Let row-level security use the search indexes (see LEAKPROOF_FUNCTIONS in
-- src/msnet/db/embedded.py for why this is safe); a superuser only, in msnet's database.
\connect msnet
ALTER FUNCTION ts_match_vq(tsvector, tsquery) LEAKPROOF;
ALTER FUNCTION arraycontains(anyarray, anyarray) LEAKPROOF;
ALTER FUNCTION arrayoverlap(anyarray, anyarray) LEAKPROOF;
