"""The platform side: ingest, storage, registry, figures, KPI claims, models, evidence."""
