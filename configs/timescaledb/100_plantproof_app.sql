-- The collector's database role, created once by the TimescaleDB image when the data volume is first
-- initialised (run as the superuser from /docker-entrypoint-initdb.d, after the image has created
-- the timescaledb extension in the database). docker-compose.yml mounts it there.
--
-- `plantproof_app` is no superuser and can create no role or database. It owns what it creates: the
-- collector's schema. `collector migrate` creates the tables, hypertables and the continuous
-- aggregate; `collector run` also sets the compression and retention policies, refreshes the
-- aggregate and (plain PostgreSQL) drops expired partitions, all of which TimescaleDB and
-- PostgreSQL allow the owner only, so one owner role serves both. The superuser's password is
-- another secret, which no plantproof service is given.
\set ON_ERROR_STOP on
\set app_password `cat "$APP_PASSWORD_FILE"`
CREATE ROLE plantproof_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'app_password';
\unset app_password
-- `collector migrate` reads shared_preload_libraries to tell whether TimescaleDB can load, a
-- setting only superusers and members of pg_read_all_settings may read.
GRANT pg_read_all_settings TO plantproof_app;
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO plantproof_app', current_database()) \gexec
-- PostgreSQL 15 and later no longer let every role create in schema public.
GRANT USAGE, CREATE ON SCHEMA public TO plantproof_app;
