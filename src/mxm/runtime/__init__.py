"""mxm-runtime: the operational environment of an MXM application.

Declare who the application is (app, environment, role); mxm-runtime
discovers where it runs, loads its configuration through mxm-config, builds
its SecretsApi through mxm-secrets, materialises paths, database views and
runtime metadata, and returns one :class:`RuntimeContext`.
"""

from mxm.types import RuntimeIdentity

# First: imports dependency-injector without FastAPI/Starlette (see _provider).
import mxm.runtime._provider  # noqa: F401  # isort: skip  # pyright: ignore[reportUnusedImport]
from mxm.runtime.attestation import attest_runtime_identity
from mxm.runtime.build import build_runtime_context
from mxm.runtime.container import RuntimeContainer
from mxm.runtime.context import RuntimeContext, RuntimeMetadata, RuntimePaths
from mxm.runtime.diagnostics import RuntimeReport, check_runtime
from mxm.runtime.discovery import discover_machine, discover_substrate
from mxm.runtime.errors import (
    ConfigFileError,
    ConfigInterpolationError,
    ConfigSectionError,
    ConfigSelectorError,
    ConfigStoreNotFoundError,
    ConfigValueError,
    DatabaseAuthenticationError,
    DatabaseConnectionError,
    DatabaseCredentialsError,
    MXMRuntimeError,
    RuntimeIdentityAttestationError,
    RuntimeIdentityError,
    RuntimeSettingsError,
    SecretsConfigError,
)
from mxm.runtime.identity import (
    build_runtime_identity,
    identity_from_env,
    identity_to_env,
    validate_runtime_identity_shape,
)
from mxm.runtime.settings import RuntimeSettings

__version__ = "0.2.0"

__all__ = [
    "ConfigFileError",
    "ConfigInterpolationError",
    "ConfigSectionError",
    "ConfigSelectorError",
    "ConfigStoreNotFoundError",
    "ConfigValueError",
    "DatabaseAuthenticationError",
    "DatabaseConnectionError",
    "DatabaseCredentialsError",
    "MXMRuntimeError",
    "RuntimeContainer",
    "RuntimeContext",
    "RuntimeIdentity",
    "RuntimeIdentityAttestationError",
    "RuntimeIdentityError",
    "RuntimeMetadata",
    "RuntimePaths",
    "RuntimeReport",
    "RuntimeSettings",
    "RuntimeSettingsError",
    "SecretsConfigError",
    "__version__",
    "attest_runtime_identity",
    "build_runtime_context",
    "build_runtime_identity",
    "check_runtime",
    "identity_from_env",
    "identity_to_env",
    "discover_machine",
    "discover_substrate",
    "validate_runtime_identity_shape",
]
