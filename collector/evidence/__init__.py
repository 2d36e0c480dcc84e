"""Signed, self-verifying evidence bundles (DESIGN §7)."""
