"""Tests of the example FastAPI service."""
