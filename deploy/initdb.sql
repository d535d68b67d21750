-- The two roles msnet needs: the schema owner (migrations) and the service role (owns nothing,
-- no BYPASSRLS, so row-level security applies to it). Change the passwords.
CREATE ROLE msnet_owner LOGIN PASSWORD 'change-me-too';
CREATE ROLE msnet_app LOGIN PASSWORD 'change-me-too' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE DATABASE msnet OWNER msnet_owner;
