"""Protocol adapters: per-protocol endpoint and address models, pure request planning and codecs,
supervised connections. Each subpackage is one protocol, found by `adapters.registry.discover`.

Imports infra and devicemodel only.
"""
