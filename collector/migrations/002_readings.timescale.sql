-- Readings on TimescaleDB: a hypertable with 1-day chunks. Same columns as the plain variant.
CREATE TABLE readings (
    time        timestamptz NOT NULL,
    point_id    integer NOT NULL,
    value       double precision,
    quality     smallint NOT NULL DEFAULT 0,
    envelope_id bigint NOT NULL
);
SELECT create_hypertable('readings', 'time', chunk_time_interval => interval '1 day');
CREATE INDEX readings_point_time ON readings (point_id, time);

-- Kept so callers need not know which storage path is in use (chunks are created on demand).
CREATE FUNCTION ensure_readings_partitions(from_month date, months integer) RETURNS void
LANGUAGE sql AS $$ SELECT $$;
