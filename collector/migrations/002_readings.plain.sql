-- Readings on plain PostgreSQL: monthly range partitions (created ahead by
-- ensure_readings_partitions), BRIN on time. Same columns as the TimescaleDB variant.
CREATE TABLE readings (
    time        timestamptz NOT NULL,
    point_id    integer NOT NULL,
    value       double precision,
    quality     smallint NOT NULL DEFAULT 0,
    envelope_id bigint NOT NULL
) PARTITION BY RANGE (time);

CREATE TABLE readings_default PARTITION OF readings DEFAULT;
CREATE INDEX readings_time_brin ON readings USING brin (time);
CREATE INDEX readings_point_time ON readings (point_id, time);

-- Creates the monthly partitions covering [from_month, from_month + months).
CREATE FUNCTION ensure_readings_partitions(from_month date, months integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_month)::date;
    name text;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        name := format('readings_%s', to_char(m, 'YYYYMM'));
        IF to_regclass(name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
                           name, m, (m + interval '1 month')::date);
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
END $$;

SELECT ensure_readings_partitions((now() - interval '1 month')::date, 3);
