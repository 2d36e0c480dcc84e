"""ISO 22400 time model, KPI formulas and claim verification (DESIGN §6)."""
