-- String readings, compression, the daily continuous aggregate and the `daily_point_stats` view
-- (TimescaleDB). Same semantics as the plain variant: days before the watermark come from the
-- continuous aggregate (refreshed by the collector's rollup), later days and days that received late
-- data since are aggregated from readings at query time, so the view always equals an aggregate over
-- readings, whatever the query window and whenever the refresh ran.
CREATE TABLE readings_text (
    time        timestamptz NOT NULL,
    point_id    integer NOT NULL,
    value       text,
    quality     smallint NOT NULL DEFAULT 0,
    envelope_id bigint NOT NULL
);
CREATE INDEX readings_text_point_time ON readings_text (point_id, time);

ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'point_id',
                          timescaledb.compress_orderby = 'time');
-- Default; `plantproof collector run` re-applies the configured interval (storage.compress_after_days).
SELECT add_compression_policy('readings', interval '7 days');

CREATE MATERIALIZED VIEW readings_daily_cagg
WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT time_bucket(interval '1 day', time) AS bucket, point_id, count(*) AS n,
       sum(CASE WHEN quality = 0 THEN 1 ELSE 0 END)::bigint AS n_good,
       min(value) AS min, max(value) AS max, avg(value) AS avg,
       first(value, time) AS first, last(value, time) AS last
FROM readings
GROUP BY bucket, point_id
WITH NO DATA;

CREATE TABLE rollup_watermark (
    one       boolean PRIMARY KEY DEFAULT true CHECK (one),
    watermark date NOT NULL DEFAULT '1970-01-01'  -- days before it are in readings_daily_cagg
);
INSERT INTO rollup_watermark DEFAULT VALUES;

CREATE TABLE rollup_dirty (day date PRIMARY KEY);

CREATE VIEW daily_point_stats AS
SELECT (c.bucket AT TIME ZONE 'UTC')::date AS day, c.point_id, c.n, c.n_good, c.min, c.max, c.avg,
       c.first, c.last
FROM readings_daily_cagg c
WHERE c.bucket < ((SELECT watermark FROM rollup_watermark)::timestamp AT TIME ZONE 'UTC')
  AND NOT EXISTS (SELECT 1 FROM rollup_dirty x WHERE x.day = (c.bucket AT TIME ZONE 'UTC')::date)
UNION ALL
SELECT (r.time AT TIME ZONE 'UTC')::date AS day, r.point_id, count(*) AS n,
       count(*) FILTER (WHERE r.quality = 0) AS n_good, min(r.value), max(r.value), avg(r.value),
       first(r.value, r.time) AS first, last(r.value, r.time) AS last
FROM readings r
WHERE r.time >= ((SELECT watermark FROM rollup_watermark)::timestamp AT TIME ZONE 'UTC')
   OR (r.time AT TIME ZONE 'UTC')::date IN (SELECT day FROM rollup_dirty)
GROUP BY 1, 2;
