"""Endpoint settings of one Modbus device instance (the `endpoint:` mapping of a gateway config)."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ModbusEndpoint(BaseModel):
    """Where and how to reach one Modbus unit.

    TCP: `host` and `port`; one TCP connection per device instance. RTU: `serial_port` (a device
    path, or any pyserial URL such as `socket://host:port` for RTU over a terminal server) with the
    line settings; device instances on the same serial port share the bus.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    transport: Literal["tcp", "rtu"] = "tcp"
    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    serial_port: str | None = None
    baudrate: Annotated[int, Field(ge=300, le=4_000_000)] = 19200
    parity: Literal["N", "E", "O"] = "N"
    bytesize: Literal[7, 8] = 8
    stopbits: Literal[1, 2] = 1
    unit_id: Annotated[int, Field(ge=0, le=255)] = 1
    timeout: Annotated[float, Field(gt=0, le=60)] = 1.0  # seconds per request
    # Request planning: registers left unread between two points of one request, request size caps
    # (some devices refuse the protocol's 125 registers or 2000 bits per read), and the opt-out for
    # devices that reject reads spanning unmapped registers.
    max_gap: Annotated[int, Field(ge=0, le=124)] = 8
    max_registers_per_read: Annotated[int, Field(ge=1, le=125)] = 125
    max_bits_per_read: Annotated[int, Field(ge=1, le=2000)] = 2000
    per_point_requests: bool = False
    # Pauses some devices need: between the end of one answer and the next request (on an RTU bus,
    # before this unit's next request), and after a TCP connection opens, before its first request.
    request_gap_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    connect_delay_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    # Reconnect (TCP) or unit back-off (RTU) after a failure; back to `backoff_initial` once the
    # device answers again.
    # Default cap: 5 s over TCP (a refused connection costs nothing, and the device is read again
    # within 5 s of coming back), 30 s over RTU (a silent unit costs the bus one timeout per try).
    backoff_initial: Annotated[float, Field(gt=0, le=60)] = 0.5
    backoff_max: Annotated[float, Field(gt=0, le=3600)] | None = None

    @model_validator(mode="after")
    def _transport_fields(self) -> "ModbusEndpoint":
        if self.transport == "tcp" and not self.host:
            raise ValueError("a Modbus TCP endpoint needs 'host'")
        if self.transport == "rtu" and not self.serial_port:
            raise ValueError("a Modbus RTU endpoint needs 'serial_port'")
        if self.backoff_cap < self.backoff_initial:
            raise ValueError("'backoff_max' must be >= 'backoff_initial'")
        return self

    @property
    def backoff_cap(self) -> float:
        """`backoff_max`, or its default for the transport."""
        if self.backoff_max is not None:
            return self.backoff_max
        return 5.0 if self.transport == "tcp" else 30.0
