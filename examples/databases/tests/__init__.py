"""Tests of the fill ledger example."""
