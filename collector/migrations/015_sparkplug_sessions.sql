-- Sparkplug B host sessions (DESIGN §4): per edge node the bdSeq and last seq of its session and the
-- alias tables of its NBIRTH and DBIRTHs, written in the transaction of the batch that changed them,
-- so that a collector started again reads the DATA of a session begun before it stopped. `tables`
-- is {device (the edge node id for its own metrics): [[name, alias or null, datatype code], ...]};
-- an NDEATH marks the session dead and drops its tables. The host bounds the rows
-- (sparkplug.max_edge_nodes: the longest dead are deleted first).
CREATE TABLE sparkplug_sessions (
    group_id   text NOT NULL,
    edge_node  text NOT NULL,
    bdseq      bigint NOT NULL,
    seq        integer NOT NULL CHECK (seq BETWEEN -1 AND 255),
    alive      boolean NOT NULL,
    tables     jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, edge_node)
);
