"""Coordinates: CRS handling, GCJ-02/BD-09, metric lengths, distances and chainage."""
