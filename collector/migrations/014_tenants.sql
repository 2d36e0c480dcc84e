-- The platform service (api/): tenants own sites, bearer tokens carry a tenant and a role, and
-- every write and every refused request is kept in an audit log. A token is stored only as the
-- SHA-256 of its text: the database never holds a token that would authenticate.

CREATE TABLE tenants (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A site belongs to one tenant at most: what a tenant sees is the registry of its sites.
CREATE TABLE tenant_sites (
    site   text PRIMARY KEY CHECK (site <> ''),
    tenant integer NOT NULL REFERENCES tenants (id)
);
CREATE INDEX tenant_sites_tenant ON tenant_sites (tenant);

CREATE TABLE api_tokens (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant     integer NOT NULL REFERENCES tenants (id),
    role       text NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
    sha256     text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    label      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- Refused requests carry the token only when it was valid (a wrong role); an unknown token's
-- text is never written.
CREATE TABLE audit_log (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    token_id integer REFERENCES api_tokens (id),
    tenant   integer REFERENCES tenants (id),
    role     text,
    client   text NOT NULL DEFAULT '',
    method   text NOT NULL,
    path     text NOT NULL,
    status   smallint NOT NULL,
    detail   text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log USING brin (at);
CREATE INDEX audit_log_tenant ON audit_log (tenant, at);
