-- Alarms raised and cleared by the platform service's rules (api/alarm_rules.py). An alarm with a
-- site belongs to the tenant owning that site; one without (the broker, the database, a
-- collector) is the platform's own and shown to every tenant. One alarm per (rule, subject) is
-- active at a time, so a restarted evaluator carries on with the alarms it left.

CREATE TABLE alarms (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule       text NOT NULL CHECK (rule <> ''),
    subject    text NOT NULL CHECK (subject <> ''),
    site       text,
    severity   text NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    message    text NOT NULL,
    value      double precision,
    raised_at  timestamptz NOT NULL,
    cleared_at timestamptz CHECK (cleared_at >= raised_at),
    acked_at   timestamptz,
    acked_by   integer REFERENCES api_tokens (id),
    ack_note   text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX alarms_active ON alarms (rule, subject) WHERE cleared_at IS NULL;
CREATE INDEX alarms_site_raised ON alarms (site, raised_at);
