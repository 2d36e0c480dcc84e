"""A real HTTP listener on a free loopback port that records the JSON POSTed to it (test helper).

It answers 503 to the first `refuse` POSTs, then 204, so a sender's retries can be counted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, refuse: int = 0) -> None:
        self.refuse = refuse
        self.accepted: list[dict[str, Any]] = []
        self.refused = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    refuse = receiver.refused < receiver.refuse
                    if refuse:
                        receiver.refused += 1
                    else:
                        receiver.accepted.append(json.loads(body))
                self.send_response(503 if refuse else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        """The first `count` accepted bodies, waiting for them; AssertionError after the timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.accepted) >= count:
                    return list(self.accepted[:count])
            time.sleep(0.05)
        raise AssertionError(f"{len(self.accepted)} of {count} webhook posts arrived in {timeout_s} s")

    def wait_event(self, match: Callable[[dict[str, Any]], bool], timeout_s: float) -> dict[str, Any]:
        """The first accepted body that `match`es, waiting for it; AssertionError after the timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                found = next((body for body in self.accepted if match(body)), None)
            if found is not None:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no matching webhook post in {timeout_s} s; got {self.accepted}")


@contextmanager
def receiving(refuse: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(refuse)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join()
