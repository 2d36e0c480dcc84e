-- Source status codes of bad and uncertain readings: the optional fifth element of a v1 sample
-- (e.g. OPC UA BadSensorFailure 0x808C0000 vs BadNodeIdUnknown 0x80340000). A row exists only for
-- a reading that carried a code, so ordinary readings cost nothing; (point_id, time) names the
-- reading in `readings` or `readings_text`. The same on TimescaleDB and plain PostgreSQL.
CREATE TABLE reading_status (
    point_id    integer NOT NULL,
    time        timestamptz NOT NULL,
    status_code bigint NOT NULL CHECK (status_code BETWEEN 0 AND 4294967295),
    envelope_id bigint NOT NULL,
    PRIMARY KEY (point_id, time)
);
