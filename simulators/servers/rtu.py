"""Modbus RTU over a virtual serial line: two pseudo-terminals joined in-process.

`VirtualSerialLine` opens two pty pairs and copies bytes between their master sides, so whatever
is written to one slave device (`server_path`) is read from the other (`client_path`) and back, like
a null-modem cable. `SimModbusRtuServer` serves the plant's units on the server end; any serial
client (pymodbus, mbpoll `-m rtu`) opens the client end. On a serial bus nobody answers for an
absent or silenced unit: the client times out.
"""

import asyncio
import contextlib
import errno
import os
import termios
import tty
from collections.abc import Sequence
from typing import Any, cast

from pymodbus import FramerType
from pymodbus.server import ModbusBaseServer, ModbusSerialServer

from simulators.servers import SimServerError, ValueSource
from simulators.servers.modbus import SimModbusServer, placeholder_context

CHUNK = 4096  # bytes moved per read; the pty buffers bound what is in flight


class VirtualSerialLine:
    """Two joined pseudo-terminals. Bytes the far side cannot take are dropped and counted."""

    def __init__(self) -> None:
        self.server_path = self.client_path = ""
        self.dropped = 0
        self._fds: list[int] = []
        self._masters: tuple[int, int] | None = None

    def open(self) -> None:
        if self._masters is not None:
            return
        try:
            master_a, slave_a = os.openpty()
            master_b, slave_b = os.openpty()
        except OSError as exc:
            raise SimServerError(f"cannot open pseudo-terminals: {exc}") from exc
        # The slaves stay open here so a client closing its end never hangs the line up.
        self._fds = [master_a, slave_a, master_b, slave_b]
        for fd in (slave_a, slave_b):
            tty.setraw(fd, termios.TCSANOW)
        for fd in (master_a, master_b):
            os.set_blocking(fd, False)
        self.server_path, self.client_path = os.ttyname(slave_a), os.ttyname(slave_b)
        self._masters = (master_a, master_b)
        loop = asyncio.get_running_loop()
        loop.add_reader(master_a, self._pump, master_a, master_b)
        loop.add_reader(master_b, self._pump, master_b, master_a)

    def _pump(self, src: int, dst: int) -> None:
        try:
            data = os.read(src, CHUNK)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EIO):
                return
            raise
        try:
            written = os.write(dst, data)
        except BlockingIOError:
            written = 0
        self.dropped += len(data) - written

    def close(self) -> None:
        if self._masters is not None:
            loop = asyncio.get_running_loop()
            for fd in self._masters:
                loop.remove_reader(fd)
            self._masters = None
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []


class SimModbusRtuServer(SimModbusServer):
    """The Modbus simulator on a virtual RTU line (one unit id per device; `client_path` for clients).

    stop()/start() take the device off the line and back; the line itself stays until close().
    """

    def __init__(
        self,
        source: ValueSource,
        speed: float = 1.0,
        t0_ns: int | None = None,
        *,
        baudrate: int = 19200,
        refresh_s: float = 0.1,
        devices: Sequence[str] | None = None,
    ) -> None:
        super().__init__(source, "", 0, speed, t0_ns, refresh_s=refresh_s, devices=devices)
        self.baudrate = baudrate
        self.line = VirtualSerialLine()
        self._store.absent_answers = False

    @property
    def client_path(self) -> str:
        return self.line.client_path

    async def _listen(self) -> ModbusBaseServer:
        self.line.open()
        server = ModbusSerialServer(
            context=placeholder_context(),
            framer=FramerType.RTU,
            port=self.line.server_path,
            baudrate=self.baudrate,
            parity="N",
            ignore_missing_devices=True,
        )
        server.context = cast(Any, self._store)
        try:
            await server.serve_forever(background=True)
        except (RuntimeError, OSError) as exc:
            raise SimServerError(f"modbus RTU server cannot open {self.line.server_path}: {exc}") from exc
        return server

    async def close(self) -> None:
        await self.stop()
        self.line.close()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
