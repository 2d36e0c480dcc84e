-- End-to-end acknowledgement (DESIGN §3): per gateway, the highest seq up to which every envelope
-- is committed, either stored in the ledger or refused into dead letters; device moves by operators.

-- A refused gateway envelope names its (gw, seq) when that can be told, so the watermark passes it.
ALTER TABLE dead_letters ADD COLUMN gw text, ADD COLUMN seq bigint;
CREATE INDEX dead_letters_gw_seq ON dead_letters (gw, seq) WHERE gw IS NOT NULL;

CREATE TABLE ack_watermarks (
    gw              text PRIMARY KEY,
    site            text NOT NULL,
    stored          bigint NOT NULL DEFAULT -1,  -- every seq <= stored is handled (-1: none yet)
    dropped_through bigint NOT NULL DEFAULT -1,  -- the gateway declared seqs <= this dropped if absent
    dropped_count   bigint NOT NULL DEFAULT 0,   -- envelopes the gateway says its spool dropped
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- An operator gave a device to another gateway (`plantproof collector move-device`).
CREATE TABLE device_moves (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    moved_at timestamptz NOT NULL DEFAULT now(),
    site     text NOT NULL,
    dev      text NOT NULL,
    from_gw  text NOT NULL,
    to_gw    text NOT NULL,
    reason   text NOT NULL DEFAULT ''
);

-- Move the watermark of gateway g (at site s) as far as the ledger, the dead letters and the
-- gateway's drop declaration allow; returns it. Runs in O(envelopes it passes), by the primary key.
CREATE FUNCTION ack_advance(g text, s text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    w bigint;
    island_end bigint;
BEGIN
    INSERT INTO ack_watermarks (gw, site) VALUES (g, s) ON CONFLICT (gw) DO NOTHING;
    SELECT greatest(a.stored, a.dropped_through) INTO w FROM ack_watermarks a WHERE a.gw = g FOR UPDATE;
    LOOP
        EXIT WHEN w >= 9223372036854775806;
        IF EXISTS (SELECT 1 FROM envelopes e WHERE e.gw = g AND e.seq = w + 1) THEN
            -- the end of the run of consecutive seqs that starts at w + 1
            SELECT e.seq INTO island_end FROM envelopes e
             WHERE e.gw = g AND e.seq > w
               AND NOT EXISTS (SELECT 1 FROM envelopes n WHERE n.gw = g AND n.seq = e.seq + 1)
             ORDER BY e.seq LIMIT 1;
            w := island_end;
        ELSIF EXISTS (SELECT 1 FROM dead_letters d WHERE d.gw = g AND d.seq = w + 1) THEN
            w := w + 1;
        ELSE
            EXIT;
        END IF;
    END LOOP;
    UPDATE ack_watermarks SET stored = w, updated_at = now() WHERE gw = g AND stored < w;
    RETURN w;
END $$;
