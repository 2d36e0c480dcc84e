"""The assessment package's one exception family; foreign errors are translated at the boundary."""

# layering: pure

from __future__ import annotations


class AssessmentError(Exception):
    """Base of everything the assessment package raises."""


class AnswerError(AssessmentError):
    """An answer, declaration or catalogue entry that breaks the seed's rules (names what and why)."""


class InputError(AssessmentError):
    """A YAML input that cannot be used; names the file, the line and the field."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        where = ":".join(str(x) for x in (file, line) if x is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field {field})" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")
        self.file, self.line, self.field = file, line, field
