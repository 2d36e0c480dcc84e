-- The platform service's claims and evidence bundles, each owned by a tenant. A claim is kept as
-- parsed (both periods filled, its scope narrowed to the tenant's sites), so verifying it again
-- later asks the same question; every verification is kept with its full result.

CREATE TABLE api_claims (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant     integer NOT NULL REFERENCES tenants (id),
    claim_id   text NOT NULL,
    claim      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by integer REFERENCES api_tokens (id),
    UNIQUE (tenant, claim_id)
);

CREATE TABLE api_claim_results (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    claim       integer NOT NULL REFERENCES api_claims (id),
    verified_at timestamptz NOT NULL DEFAULT now(),
    verified_by integer REFERENCES api_tokens (id),
    verdict     text NOT NULL CHECK (verdict IN ('verified', 'refuted', 'inconclusive')),
    result      jsonb NOT NULL
);
CREATE INDEX api_claim_results_claim ON api_claim_results (claim, verified_at);

-- An exported bundle lives in the service's evidence directory under its tenant's id and its own
-- random id; only these two ids ever make its path.
CREATE TABLE api_evidence (
    id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    tenant      integer NOT NULL REFERENCES tenants (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  integer REFERENCES api_tokens (id),
    window_text text NOT NULL,
    scope       jsonb NOT NULL,  -- the tenant and the sites the bundle covers, as evidence.json names them
    fingerprint text NOT NULL,
    claims      text[] NOT NULL DEFAULT '{}',
    bytes       bigint NOT NULL
);
CREATE INDEX api_evidence_tenant ON api_evidence (tenant, created_at);
