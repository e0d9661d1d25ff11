"""Benchmarks of mxm-runtime against the physical floor, mxm-config's ``load_config``.

Run them all with ``python -m benchmarks`` (``make bench``). Each benchmark
measures the runtime and its baseline side by side, in the same process (or
the same run of fresh subprocesses), alternating them over repeated rounds,
and reports the median ratio and its spread. Nothing here is imported by the
package or by the unit tests.
"""
