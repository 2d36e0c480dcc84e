"""The edge process: scan groups, edge processing, bounded spool, MQTT publisher, commands."""
