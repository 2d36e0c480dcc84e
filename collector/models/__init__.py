"""The industrial-model catalog (pure numpy models over telemetry) and its invocation ledger."""
