"""Generated from wire/sparkplug/sparkplug_b.proto by scripts/gen-sparkplug-proto.sh: do not edit.

Only wire.sparkplug imports this package; everyone else uses its typed API.
"""

# layering: pure
