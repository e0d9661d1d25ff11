"""Shared pytest configuration for mxm-runtime's own tests."""

from mxm.runtime.testing.gopass import gopass_store, gpg_test_key

__all__ = ["gopass_store", "gpg_test_key"]
