"""A small MXM service on FastAPI, built on ``mxm.runtime.fastapi``, and its tests."""
