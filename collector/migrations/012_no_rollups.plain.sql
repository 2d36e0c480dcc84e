-- Figures and KPIs read the readings themselves; the daily rollup and its bookkeeping go.
DROP VIEW IF EXISTS daily_point_stats;
DROP TABLE IF EXISTS readings_daily;
DROP TABLE IF EXISTS rollup_dirty;
DROP TABLE IF EXISTS rollup_watermark;
