"""infra.progress off a terminal: plain lines, throttled, the completion always shown."""

from __future__ import annotations

import io

from infra.progress import Progress


def test_plain_lines_are_throttled_and_completion_is_always_printed() -> None:
    out, now = io.StringIO(), [0.0]
    p = Progress("import", unit="bytes", every_s=5.0, stream=out, terminal=False, clock=lambda: now[0])
    p("validating", 10, 100, "3 rows")
    now[0] = 1.0
    p("validating", 20, 100)  # within 5 s of the last line: quiet
    now[0] = 6.0
    p("validating", 50, 100)
    p("validating", 100, 100)  # done: printed at once
    p("validating", 100, 100)  # and only once
    p.close()
    assert out.getvalue().splitlines() == [
        "import validating:  10.0 % (10/100 bytes, 3 rows)",
        "import validating:  50.0 % (50/100 bytes)",
        "import validating: 100.0 % (100/100 bytes)",
    ]
