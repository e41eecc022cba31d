"""Data: the CREMA-D twin, readers for real datasets, preparation and splits."""
