"""Progress of long work: a rich bar on a terminal, otherwise a plain line at most every few seconds.

Library functions take a plain callback, `(phase, done, total, detail) -> None` (`ProgressFn`), and
stay free of output; commands create a `Progress` (which is such a callback) and pass it. Progress
goes to stderr by default, so a command's stdout (`--json` included) is the same with or without it.
A total of 0 means unknown: only the count is shown.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

ProgressFn = Callable[[str, int, int, str | None], None]


class Progress:
    """`p(phase, done, total, detail=None)`; off a terminal one line per `every_s` seconds at most,
    and each phase's completion (done == total) once; on a terminal one bar per phase."""

    def __init__(
        self,
        label: str,
        unit: str = "bytes",
        every_s: float = 5.0,
        stream: TextIO | None = None,
        terminal: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.unit, self.every_s, self.clock = label, unit, every_s, clock
        self.stream = stream if stream is not None else sys.stderr
        if terminal is None:
            isatty = getattr(self.stream, "isatty", None)
            terminal = bool(isatty()) if isatty is not None else False
        self._last: float | None = None  # when the last plain line was written
        self._completed: set[str] = set()  # phases whose completion line is written
        self._pending: tuple[str, int, int, str | None] | None = None  # held back; close writes it
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        if terminal:
            self._bar = self._start_bar()

    def _start_bar(self) -> Any:
        # Imported here: rich is only needed, and only paid for, on a terminal.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        count = DownloadColumn() if self.unit == "bytes" else MofNCompleteColumn()
        columns = [TextColumn("{task.description}"), BarColumn(), count]
        if self.unit != "bytes":
            columns.append(TextColumn(self.unit))
        columns += [TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TimeRemainingColumn()]
        bar = RichProgress(*columns, console=Console(file=self.stream, force_terminal=True))
        bar.start()
        return bar

    def __call__(self, phase: str, done: int, total: int, detail: str | None = None) -> None:
        if self._bar is not None:
            self._update_bar(phase, done, total, detail)
            return
        complete = total > 0 and done >= total
        if complete and phase in self._completed:
            return
        now = self.clock()
        if complete or self._last is None or now - self._last >= self.every_s:
            self._write(self.line(phase, done, total, detail))
            self._last = now
            if complete:
                self._completed.add(phase)
        else:
            self._pending = (phase, done, total, detail)  # formatted only if close needs it

    def line(self, phase: str, done: int, total: int, detail: str | None = None) -> str:
        tail = f", {detail}" if detail else ""
        if total <= 0:  # unknown total: the count alone
            return f"{self.label} {phase}: {done:,} {self.unit}{tail}"
        pct = 100.0 * min(done, total) / total
        return f"{self.label} {phase}: {pct:5.1f} % ({done:,}/{total:,} {self.unit}{tail})"

    def _write(self, line: str) -> None:
        self._pending = None
        self.stream.write(line + "\n")
        self.stream.flush()

    def _update_bar(self, phase: str, done: int, total: int, detail: str | None) -> None:
        known = total if total > 0 else None  # None: rich shows a pulsing bar
        if phase not in self._tasks:
            self._tasks[phase] = self._bar.add_task(f"{self.label} {phase}", total=known, detail="")
        self._bar.update(self._tasks[phase], completed=done, total=known, detail=detail or "")

    def close(self) -> None:
        """Stop the bar; off a terminal, write the latest state if it was held back (e.g. the last
        count of a phase whose total was unknown)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self._pending is not None:
            self._write(self.line(*self._pending))

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
