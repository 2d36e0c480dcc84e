"""A Sparkplug B edge node made with the PyPI `pysparkplug` (its EdgeNode and Device), driven over
stdin, run in its own venv (it imports nothing of ours):

    .venv/bin/python edge.py HOST PORT GROUP EDGE_NODE

One JSON command a line on stdin, answered by one JSON line on stdout once done:
    {"op": "register", "device": id, "metrics": [<metric>, ...]}   DBIRTH
    {"op": "update_device", "device": id, "metrics": [...]}        DDATA
    {"op": "deregister", "device": id}                             DDEATH
    {"op": "commands"}                                             the NCMDs received so far
    {"op": "disconnect"}                                           NDEATH, then exit
A metric is {"name", "datatype" (e.g. "DOUBLE"), "value", "timestamp" (ms, optional)}.
The edge node connects (NBIRTH) before the first command and answers {"ok": true, "ready": true}.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import pysparkplug as psp

_received: list[dict[str, Any]] = []
_lock = threading.Lock()


def _on_ncmd(_node: psp.EdgeNode, message: psp.Message) -> None:
    metrics = [{"name": m.name, "value": m.value} for m in message.payload.metrics]
    with _lock:
        _received.append({"topic": str(message.topic), "metrics": metrics})


def _metric(m: dict[str, Any]) -> psp.Metric:
    return psp.Metric(
        timestamp=m.get("timestamp", psp.get_current_timestamp()),
        name=m["name"],
        datatype=psp.DataType[m["datatype"]],
        value=m.get("value"),
        is_null=m.get("value") is None,
    )


def main() -> int:
    host, port, group, edge_node = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    node = psp.EdgeNode(group, edge_node, [], cmd_callback=_on_ncmd)
    node.connect(host, port=port)
    time.sleep(0.5)  # the NBIRTH is sent from the connect callback
    print(json.dumps({"ok": True, "ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        out: dict[str, Any] = {"ok": True}
        if op == "register":
            node.register(psp.Device(cmd["device"], [_metric(m) for m in cmd["metrics"]]))
        elif op == "update_device":
            node.update_device(cmd["device"], [_metric(m) for m in cmd["metrics"]])
        elif op == "deregister":
            node.deregister(cmd["device"])
        elif op == "commands":
            with _lock:
                out["commands"] = list(_received)
        elif op == "disconnect":
            node.disconnect()
            print(json.dumps(out), flush=True)
            return 0
        else:
            out = {"ok": False, "error": f"unknown op {op!r}"}
        time.sleep(0.05)  # QoS 0 publishes leave from the network thread
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
