"""Micro-offsets for people: aggregated retirements, one certificate a person (docs/offsets.md)."""
