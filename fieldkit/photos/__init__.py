"""Photos as evidence: metadata, placement, the evidence store, derivatives and ingest."""
