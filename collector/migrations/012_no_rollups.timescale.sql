-- Figures and KPIs read the readings themselves; the daily continuous aggregate and its
-- bookkeeping go.
DROP VIEW IF EXISTS daily_point_stats;
DROP MATERIALIZED VIEW IF EXISTS readings_daily_cagg;
DROP TABLE IF EXISTS rollup_dirty;
DROP TABLE IF EXISTS rollup_watermark;
