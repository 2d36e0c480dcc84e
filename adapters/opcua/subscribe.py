"""Monitored items for the scan groups of one session: chunked to the server's limit, refusals
sorted into "poll it instead" and "the node is wrong", revised sampling intervals collected."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncua import Client, ua

from adapters.base import ScanGroup

# Monitored-item refusals that mean the node itself is wrong: the point is bad, polling cannot help.
NODE_REFUSALS = frozenset(
    int(code)
    for code in (
        ua.StatusCodes.BadNodeIdUnknown,
        ua.StatusCodes.BadNodeIdInvalid,
        ua.StatusCodes.BadAttributeIdInvalid,
        ua.StatusCodes.BadNotReadable,
        ua.StatusCodes.BadUserAccessDenied,
    )
)


@dataclass(slots=True)
class Subscribed:
    polled: dict[float, list[str]] = field(default_factory=dict)  # interval -> points to read instead
    refused: dict[str, int] = field(default_factory=dict)  # point -> status code of a wrong node
    slower: dict[str, tuple[float, list[float]]] = field(default_factory=dict)  # group -> (asked, got)
    calls: int = 0
    refusals: list[str] = field(default_factory=list)  # subscriptions the server refused, and why


async def max_items_per_call(client: Client, configured: int | None) -> int | None:
    """The smaller of the configured cap and the server's MaxMonitoredItemsPerCall (None: no cap)."""
    node = client.get_node(ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall)
    try:
        server_limit = int(await node.read_value() or 0)
    except (ua.UaError, TypeError, ValueError):
        server_limit = 0  # not published: no limit
    if server_limit > 0:
        return min(configured, server_limit) if configured else server_limit
    return configured


async def subscribe(
    client: Client, groups: Sequence[ScanGroup], nodes: dict[str, ua.NodeId], handler: Any, limit: int | None
) -> Subscribed:
    out = Subscribed()
    results: list[Any] = []
    for group in groups:
        period_ms = group.interval_s * 1000
        names = [n for n in group.points if n in nodes]
        try:
            sub = await client.create_subscription(period_ms, handler)
        except ua.UaStatusCodeError as exc:
            out.refusals.append(f"scan group {group.name}: {exc}")
            out.polled.setdefault(group.interval_s, []).extend(names)
            continue
        _capture_item_results(sub, results)
        step = limit or len(names) or 1
        for start in range(0, len(names), step):
            chunk = names[start : start + step]
            results.clear()
            handles = await sub.subscribe_data_change(
                [client.get_node(nodes[n]) for n in chunk],
                sampling_interval=ua.Double(period_ms),
                queuesize=10,
            )
            out.calls += 1
            for name, handle in zip(chunk, handles, strict=True):
                if not isinstance(handle, ua.StatusCode):
                    continue
                if int(handle.value) in NODE_REFUSALS:
                    out.refused[name] = int(handle.value)
                else:  # refused for another reason: read it at the scan interval
                    out.polled.setdefault(group.interval_s, []).append(name)
            got = sorted({float(r.RevisedSamplingInterval) for r in results if r.StatusCode.is_good()})
            slower = [g for g in got if g > period_ms + 1e-6]
            if slower:
                out.slower[group.name] = (period_ms, slower)
    return out


def _capture_item_results(sub: Any, captured: list[Any]) -> None:
    """Collect the raw CreateMonitoredItems results of a subscription, for the revised intervals.

    asyncua keeps only the item ids; the server's revised sampling interval is in the results, so
    the service call of this subscription's session object is wrapped (for this subscription only).
    """
    server = sub.server
    original = server.create_monitored_items

    async def create_monitored_items(params: Any) -> Any:
        results = await original(params)
        captured.extend(results)
        return results

    sub.server = _Capturing(server, create_monitored_items)


class _Capturing:
    """The subscription's service object, with create_monitored_items replaced."""

    def __init__(self, inner: Any, create: Any) -> None:
        self._inner, self.create_monitored_items = inner, create

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
