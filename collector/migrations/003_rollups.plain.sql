-- String readings, daily rollups and the `daily_point_stats` view (plain PostgreSQL).
-- The collector rolls closed days up into readings_daily and moves the watermark; days before the
-- watermark that received late data are marked dirty and read from readings until rolled up again,
-- so the view always equals an aggregate over readings, whatever the query window.
CREATE TABLE readings_text (
    time        timestamptz NOT NULL,
    point_id    integer NOT NULL,
    value       text,
    quality     smallint NOT NULL DEFAULT 0,
    envelope_id bigint NOT NULL
);
CREATE INDEX readings_text_point_time ON readings_text (point_id, time);

CREATE TABLE readings_daily (
    day      date NOT NULL,
    point_id integer NOT NULL,
    n        bigint NOT NULL,
    n_good   bigint NOT NULL,
    min      double precision,
    max      double precision,
    avg      double precision,
    first    double precision,
    last     double precision,
    PRIMARY KEY (day, point_id)
);

CREATE TABLE rollup_watermark (
    one       boolean PRIMARY KEY DEFAULT true CHECK (one),
    watermark date NOT NULL DEFAULT '1970-01-01'  -- days before it are in readings_daily
);
INSERT INTO rollup_watermark DEFAULT VALUES;

CREATE TABLE rollup_dirty (day date PRIMARY KEY);

CREATE VIEW daily_point_stats AS
SELECT d.day, d.point_id, d.n, d.n_good, d.min, d.max, d.avg, d.first, d.last
FROM readings_daily d
WHERE NOT EXISTS (SELECT 1 FROM rollup_dirty x WHERE x.day = d.day)
UNION ALL
SELECT (r.time AT TIME ZONE 'UTC')::date AS day, r.point_id, count(*) AS n,
       count(*) FILTER (WHERE r.quality = 0) AS n_good, min(r.value), max(r.value), avg(r.value),
       (array_agg(r.value ORDER BY r.time, r.value))[1] AS first,
       (array_agg(r.value ORDER BY r.time DESC, r.value DESC))[1] AS last
FROM readings r
WHERE r.time >= ((SELECT watermark FROM rollup_watermark)::timestamp AT TIME ZONE 'UTC')
   OR (r.time AT TIME ZONE 'UTC')::date IN (SELECT day FROM rollup_dirty)
GROUP BY 1, 2;
