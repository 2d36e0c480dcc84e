"""The model package's exception family (part of the collector's)."""

# layering: pure

from collector.errors import CollectorError


class ModelError(CollectorError):
    """An unknown model, a missing input or a failed invocation."""
