-- Sparkplug B (DESIGN §3, §4): the ledger of messages from edge nodes. seq wraps at 256, so a
-- message is named by (group, edge node, bdSeq, seq, payload timestamp, SHA-256 of the payload
-- bytes); -1 stands for a seq or timestamp the message does not carry (NDEATH has no seq). A
-- redelivered message is found here and stores nothing twice. Its envelope (for the readings'
-- provenance) is `envelopes (gw = '{group}/{edge node}', seq = id, source = 'sparkplug')`.
CREATE TABLE sparkplug_messages (
    id           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    group_id     text NOT NULL,
    edge_node    text NOT NULL,
    bdseq        bigint NOT NULL,
    seq          integer NOT NULL CHECK (seq BETWEEN -1 AND 255),
    timestamp_ms bigint NOT NULL,
    sha256       text NOT NULL,
    message_type text NOT NULL
        CHECK (message_type IN ('NBIRTH', 'NDEATH', 'NDATA', 'DBIRTH', 'DDEATH', 'DDATA')),
    device       text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, edge_node, bdseq, seq, timestamp_ms, sha256)
);
-- A collector that lost an edge node's session (a restart) still knows a redelivery without bdSeq.
CREATE INDEX sparkplug_messages_probe ON sparkplug_messages (group_id, edge_node, seq, timestamp_ms, sha256);
CREATE INDEX sparkplug_messages_births ON sparkplug_messages (group_id, edge_node, id)
    WHERE message_type = 'NBIRTH';
