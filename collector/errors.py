"""The collector's one exception family; foreign errors are translated at the boundary."""

# layering: pure


class CollectorError(Exception):
    """Base of everything the collector raises."""
