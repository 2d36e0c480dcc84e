"""Data quality: completeness, validity, timeliness and uniqueness per point, device and site."""
