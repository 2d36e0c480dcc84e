-- One value per (point, time) and exact integers, TimescaleDB (same result as the plain variant).
-- TimescaleDB refuses a unique index on a hypertable with compression enabled, so compression is
-- switched off (every compressed chunk decompressed, the policy removed) while the column and the
-- index are added, then switched on again with the same settings; the compression policy compresses
-- the chunks again on its next run (`collector run` re-applies the configured age). The index is on
-- (point_id, time): the segmentby and orderby columns, so uniqueness checks on compressed chunks
-- stay narrow.
SELECT remove_compression_policy('readings', if_exists => true);
SELECT decompress_chunk(c, true) FROM show_chunks('readings') c;
ALTER TABLE readings SET (timescaledb.compress = false);

-- Exact integers: an integer reading that a double cannot hold exactly (beyond 2^53) keeps its exact
-- value in value_int (NULL for every other row, so ordinary rows cost nothing); value holds the
-- nearest double for aggregates. Exact readers use coalesce(value_int::numeric, value).
ALTER TABLE readings ADD COLUMN value_int bigint;

-- Rows already stored twice at one (point, time): the first stored (lowest envelope id) stays; a
-- repeat of the same value and quality is dropped; another value is dropped and recorded in
-- reading_conflicts (source 'migration', resolution 'refused'). Days that lose rows are recomputed.
CREATE TEMP TABLE readings_twice ON COMMIT DROP AS
SELECT r.tableoid AS rel, r.ctid AS row_id, r.point_id, r.time, r.value, r.quality, r.envelope_id,
       row_number() OVER (PARTITION BY r.point_id, r.time ORDER BY r.envelope_id, r.ctid) AS rank
FROM readings r
JOIN (SELECT point_id, time FROM readings GROUP BY 1, 2 HAVING count(*) > 1) k USING (point_id, time);

INSERT INTO reading_conflicts (point_id, time, stored_value, stored_quality, stored_envelope_id,
                               offered_value, offered_quality, offered_envelope_id, source, resolution)
SELECT d.point_id, d.time, k.value, k.quality, k.envelope_id, d.value, d.quality, d.envelope_id,
       'migration', 'refused'
FROM readings_twice d
JOIN readings_twice k ON k.point_id = d.point_id AND k.time = d.time AND k.rank = 1
WHERE d.rank > 1 AND (d.value IS DISTINCT FROM k.value OR d.quality <> k.quality);

DELETE FROM readings r USING readings_twice d
WHERE d.rank > 1 AND r.tableoid = d.rel AND r.ctid = d.row_id;

CREATE TEMP TABLE readings_text_twice ON COMMIT DROP AS
SELECT r.ctid AS row_id, r.point_id, r.time, r.value, r.quality, r.envelope_id,
       row_number() OVER (PARTITION BY r.point_id, r.time ORDER BY r.envelope_id, r.ctid) AS rank
FROM readings_text r
JOIN (SELECT point_id, time FROM readings_text GROUP BY 1, 2 HAVING count(*) > 1) k USING (point_id, time);

INSERT INTO reading_conflicts (point_id, time, stored_text, stored_quality, stored_envelope_id,
                               offered_text, offered_quality, offered_envelope_id, source, resolution)
SELECT d.point_id, d.time, k.value, k.quality, k.envelope_id, d.value, d.quality, d.envelope_id,
       'migration', 'refused'
FROM readings_text_twice d
JOIN readings_text_twice k ON k.point_id = d.point_id AND k.time = d.time AND k.rank = 1
WHERE d.rank > 1 AND (d.value IS DISTINCT FROM k.value OR d.quality <> k.quality);

DELETE FROM readings_text r USING readings_text_twice d WHERE d.rank > 1 AND r.ctid = d.row_id;

INSERT INTO rollup_dirty (day)
SELECT DISTINCT (time AT TIME ZONE 'UTC')::date FROM readings_twice WHERE rank > 1
ON CONFLICT DO NOTHING;

DROP INDEX readings_point_time;
CREATE UNIQUE INDEX readings_point_time ON readings (point_id, time);
DROP INDEX readings_text_point_time;
CREATE UNIQUE INDEX readings_text_point_time ON readings_text (point_id, time);

ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'point_id',
                          timescaledb.compress_orderby = 'time');
SELECT add_compression_policy('readings', interval '7 days');
