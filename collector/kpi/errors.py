"""The KPI package's exception family (part of the collector's)."""

# layering: pure

from collector.errors import CollectorError


class KpiError(CollectorError):
    """A claim file, a scope or a data problem that prevents a KPI computation."""
