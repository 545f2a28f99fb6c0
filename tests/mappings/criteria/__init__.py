"""Tests of the criteria language (mappings.criteria)."""
