"""Endpoint settings of one OPC UA device instance (the `endpoint:` mapping of a gateway config)."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from adapters.base import ConfigPath


class OpcUaEndpoint(BaseModel):
    """Where and how to reach one OPC UA server, and how to read from it.

    `security`: "none", or Basic256Sha256 with "sign" or "sign_encrypt"; the application certificate
    is generated once into `cert_dir` and reused. `auth`: anonymous, user name + password, or the
    application certificate as user identity ("certificate"). The server's certificate is checked
    against `server_certificate` when pinned, else by `server_trust`: "tofu" trusts the first
    certificate a server shows (saved in `cert_dir/trusted/`) and refuses a different one later;
    "strict" accepts only certificates in `cert_dir/trusted/` (refused ones land in
    `cert_dir/rejected/`); unset, any certificate is accepted, with a warning. Paths resolve
    against the folder of the config file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: Annotated[str, Field(pattern=r"^opc\.tcp://")]
    security: Literal["none", "sign", "sign_encrypt"] = "none"
    auth: Literal["anonymous", "username", "certificate"] = "anonymous"
    username: str | None = None
    password: SecretStr | None = None
    cert_dir: Annotated[ConfigPath, Field(validate_default=True)] = Path("pki")
    application_uri: str = "urn:plantproof:gateway"
    server_certificate: ConfigPath | None = None  # pin the server's certificate (DER or PEM) when given
    server_trust: Literal["tofu", "strict"] | None = None
    session_timeout_s: Annotated[float, Field(ge=10, le=3600)] = 60.0  # the server drops it after this
    timeout: Annotated[float, Field(gt=0, le=120)] = 4.0  # seconds per request
    watchdog_s: Annotated[float, Field(gt=0, le=60)] = 1.0  # liveness probe of the session
    mode: Literal["subscribe", "poll"] = "subscribe"  # "poll" reads at the scan interval instead
    max_items_per_call: Annotated[int, Field(ge=1)] | None = None  # cap below the server's limit
    queue_size: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000  # readings buffered for the sink
    backoff_initial: Annotated[float, Field(gt=0, le=60)] = 0.5
    backoff_max: Annotated[float, Field(gt=0, le=3600)] = 10.0  # a server back is read within 10 s

    @model_validator(mode="after")
    def _auth_fields(self) -> "OpcUaEndpoint":
        if self.auth == "username" and (not self.username or self.password is None):
            raise ValueError("auth 'username' needs 'username' and 'password'")
        if self.auth != "username" and (self.username or self.password is not None):
            raise ValueError("'username'/'password' are only used with auth 'username'")
        if self.auth == "certificate" and self.security == "none":
            raise ValueError("auth 'certificate' needs security 'sign' or 'sign_encrypt'")
        if self.server_certificate is not None and self.server_trust is not None:
            raise ValueError("pin 'server_certificate' or choose 'server_trust', not both")
        if self.backoff_max < self.backoff_initial:
            raise ValueError("'backoff_max' must be >= 'backoff_initial'")
        return self
