"""The device model: device types (points, their meaning, their protocol addresses), the address
models protocols register, birth info and canonical states derived from a device type.

Imports `wire` and `infra` only; protocols plug their address models in (`devicemodel.addresses`).
"""

# layering: pure
