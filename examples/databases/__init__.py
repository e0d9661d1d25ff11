"""A database-backed MXM application (the fill ledger) and its tests."""
