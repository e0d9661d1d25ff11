"""A small MXM-style application and its tests, written with ``mxm.runtime.testing``."""
