"""Platform figures (DESIGN §5) and tier evaluation (GUIDELINES §1): SQL in queries, math in compute."""
