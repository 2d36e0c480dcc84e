"""The wire package's one exception family."""

# layering: pure


class WireError(ValueError):
    """A topic or payload that does not follow the wire contract.

    `field` names where the problem is (a JSON path such as `$.samples[3][2]`, or a topic segment),
    so a dead letter says exactly what was wrong.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
