"""The `plantproof` command and the embedded demo stack."""

__version__ = "0.1.0"
