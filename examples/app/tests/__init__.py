"""Tests of the example application (only ``mxm.runtime.testing`` is used)."""
