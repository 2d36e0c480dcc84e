-- Registry, provenance ledger, dead letters, management operations, model ledger.
-- The readings table and its rollups come in 002 (one variant for TimescaleDB, one for plain
-- PostgreSQL); everything here is the same on both.

CREATE TABLE gateways (
    gw                text PRIMARY KEY,
    site              text NOT NULL,
    status            text NOT NULL DEFAULT 'unknown' CHECK (status IN ('online', 'offline', 'unknown')),
    backfill          boolean NOT NULL DEFAULT false,
    first_seen        timestamptz NOT NULL DEFAULT now(),
    last_seen         timestamptz NOT NULL DEFAULT now(),
    status_changed_at timestamptz
);

-- A device is identified by (site, dev): the same machine seen through a live gateway and a
-- history import is one device, never two.
CREATE TABLE devices (
    device_id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site                text NOT NULL,
    dev                 text NOT NULL,
    gw                  text NOT NULL REFERENCES gateways (gw),  -- gateway that reported it last
    area                text,
    line                text,
    type                text NOT NULL,
    industry            text NOT NULL,
    sector              text NOT NULL CHECK (sector IN ('discrete', 'process')),
    simulated           boolean NOT NULL DEFAULT false,
    managed             boolean NOT NULL DEFAULT false,  -- has a management channel (cmd topic)
    protocol            text,
    ideal_rate_per_hour double precision,
    -- 'plant' for real registrations; 'capacity:<run id>' for synthetic capacity-run populations
    namespace           text NOT NULL DEFAULT 'plant',
    online              boolean NOT NULL DEFAULT false,
    first_seen          timestamptz NOT NULL,
    last_seen           timestamptz NOT NULL,
    UNIQUE (site, dev)
);

CREATE TABLE points (
    point_id  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id integer NOT NULL REFERENCES devices (device_id),
    name      text NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('analog', 'state', 'counter', 'energy', 'switch', 'setpoint')),
    dtype     text NOT NULL,
    unit      text NOT NULL DEFAULT '',
    scale     double precision NOT NULL DEFAULT 1,
    "offset"  double precision NOT NULL DEFAULT 0,
    wrap      double precision,
    UNIQUE (device_id, name)
);

-- The provenance ledger: one row per gateway envelope, named forever by (gw, seq).
CREATE TABLE envelopes (
    envelope_id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    gw          text NOT NULL,
    seq         bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('data', 'birth', 'death')),
    site        text NOT NULL,
    dev         text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz NOT NULL,
    n           integer NOT NULL,
    sha256      text NOT NULL,
    source      text NOT NULL DEFAULT 'mqtt',  -- 'mqtt', 'kafka', or 'import:<file sha256>'
    PRIMARY KEY (gw, seq)
);
CREATE INDEX envelopes_received_at ON envelopes USING brin (received_at);

CREATE TABLE dead_letters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    error       text NOT NULL
);

-- Management operations the platform sent and what came back; the basis of "managed equipment".
CREATE TABLE management_ops (
    request_id  text PRIMARY KEY,
    site        text NOT NULL,
    gw          text NOT NULL,
    dev         text NOT NULL,
    op          text NOT NULL,
    namespace   text NOT NULL DEFAULT 'plant',
    sent_at     timestamptz NOT NULL,
    answered_at timestamptz,
    ok          boolean,
    error       text
);
CREATE INDEX management_ops_sent_at ON management_ops (sent_at);

CREATE TABLE capacity_runs (
    run_id        text PRIMARY KEY,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    devices       integer NOT NULL,   -- synthetic devices registered
    sampled       integer NOT NULL,   -- devices that were sent a management operation
    answered      integer NOT NULL DEFAULT 0,
    latency_p50_ms double precision,
    latency_p95_ms double precision,
    latency_p99_ms double precision,
    notes         text NOT NULL DEFAULT ''
);

CREATE TABLE model_invocations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoked_at   timestamptz NOT NULL DEFAULT now(),
    model        text NOT NULL,
    version      text NOT NULL,
    caller       text NOT NULL,
    internal     boolean NOT NULL DEFAULT false,  -- self-tests, demos: never counted
    scope        text NOT NULL DEFAULT '',
    duration_ms  double precision NOT NULL,
    ok           boolean NOT NULL,
    error        text
);
CREATE INDEX model_invocations_invoked_at ON model_invocations (invoked_at);
