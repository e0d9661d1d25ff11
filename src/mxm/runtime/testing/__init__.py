"""Test toolkit for applications built on mxm-runtime.

Application code that takes a :class:`~mxm.runtime.RuntimeContext` is tested
with a real context built from a throwaway configuration store, not with
mocks:

* :func:`write_config_store` and :func:`minimal_runtime_config` write a store
  from plain mappings;
* :class:`StaticSecretsApi` authorises with mxm-secrets' own rules and answers
  from a mapping instead of gopass;
* :func:`override_runtime` overrides container providers for one block and
  restores them;
* the pytest plugin (:mod:`mxm.runtime.testing.plugin`, registered through the
  ``pytest11`` entry point) provides the ``mxm_*`` fixtures.

Importing this package does not import pytest.
"""

from mxm.runtime.testing.overrides import as_provider, override_runtime
from mxm.runtime.testing.secrets import (
    SecretOutcome,
    SecretRequest,
    StaticSecretsApi,
    static_secrets_from_config,
)
from mxm.runtime.testing.store import (
    TEST_DATABASE,
    TEST_PRINCIPAL,
    TEST_SECRET,
    deep_merge,
    minimal_runtime_config,
    write_config_store,
)

__all__ = [
    "TEST_DATABASE",
    "TEST_PRINCIPAL",
    "TEST_SECRET",
    "SecretOutcome",
    "SecretRequest",
    "StaticSecretsApi",
    "as_provider",
    "deep_merge",
    "minimal_runtime_config",
    "override_runtime",
    "static_secrets_from_config",
    "write_config_store",
]
