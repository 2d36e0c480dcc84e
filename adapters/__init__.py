"""Protocol adapters: device-type model, pure request planning and codecs, supervised connections.

Imports nothing of ours.
"""
