-- Managed equipment counts only what was managed (DESIGN §5). The platform registers every request
-- before it sends it; the answer is matched by request id before its deadline, its time is the
-- platform's receive time, and `reached` is true only when the answer proves the device itself was
-- reached (a ping that read the device, a write that was read back). Rows recorded before this
-- version never carried that proof, so they keep reached = false and never count.
ALTER TABLE management_ops
    ADD COLUMN deadline     timestamptz,
    ADD COLUMN reached      boolean NOT NULL DEFAULT false,
    ADD COLUMN latency_ms   double precision,
    ADD COLUMN requested_by text;

-- A capacity run that failed half way is kept and labelled; only completed runs are shown as
-- demonstrated capacity.
ALTER TABLE capacity_runs
    ADD COLUMN status text NOT NULL DEFAULT 'completed' CHECK (status IN ('completed', 'failed'));

-- One (point, time) holds one value (DESIGN §4). An offer of another value at a stored (point, time)
-- is refused and recorded here ('refused': the stored value stays), or, with `import --replace`,
-- supersedes it ('replaced': stored_* is the old value, kept here; the offered value is now stored).
CREATE TABLE reading_conflicts (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    detected_at         timestamptz NOT NULL DEFAULT now(),
    point_id            integer NOT NULL,
    time                timestamptz NOT NULL,
    stored_value        double precision,
    stored_value_int    bigint,
    stored_text         text,
    stored_quality      smallint,
    stored_envelope_id  bigint,
    offered_value       double precision,
    offered_value_int   bigint,
    offered_text        text,
    offered_quality     smallint NOT NULL,
    offered_envelope_id bigint,
    source              text NOT NULL,  -- 'mqtt', 'import:<file sha256>', 'migration'
    resolution          text NOT NULL CHECK (resolution IN ('refused', 'replaced'))
);
CREATE INDEX reading_conflicts_point_time ON reading_conflicts (point_id, time);
