"""The advanced smart-factory application: its results table and scenario evidence from plant data."""
