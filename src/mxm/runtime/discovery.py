"""Runtime discovery: which machine and which substrate this process runs on.

Every probe reads the world only through three injectable inputs — a
filesystem ``root`` (``/`` by default), an ``environ`` mapping
(``os.environ`` by default) and a ``hostname`` (``socket.gethostname()`` by
default) — so each one can be exercised with a fixture tree. Probes never
raise on a missing or unreadable file: they record a note in the evidence and
move on.

Substrate probes, in order (the first that fires wins):

1. ``MXM_SUBSTRATE`` (explicit override, used verbatim).
2. Kubernetes: ``KUBERNETES_SERVICE_HOST`` or the service-account directory
   ``/var/run/secrets/kubernetes.io/serviceaccount`` (or ``/run/secrets/...``).
3. The container manager's own declaration: the ``container`` variable,
   ``/run/systemd/container``, ``/run/host/container-manager``.
4. ``/run/.containerenv`` (podman).
5. ``/.dockerenv`` (docker) — unless ``/proc/self/cgroup`` or the root mount
   name a different engine, which then wins (an image may carry a stale
   marker).
6. Anchored patterns in ``/proc/self/cgroup`` (``kubepods``, ``docker``,
   ``libpod``, ``containerd``, ``cri-o``, ``lxc``).
7. The root mount in ``/proc/self/mountinfo`` (overlay layers under
   ``/var/lib/docker``, ``containers/storage``, ``containerd``, ``lxc``/``lxd``).
8. A WSL kernel (``microsoft`` in ``/proc/sys/kernel/osrelease`` or
   ``/proc/version``).
9. ``local-process``.

A host that merely *runs* Docker (its processes sit in cgroups such as
``/system.slice/docker.service``; container layers are mounted elsewhere
than ``/``) is reported as ``local-process``.

Machine: ``MXM_MACHINE`` (verbatim), else ``MXM_NODE_NAME`` (the Kubernetes
node, set through the Downward API from ``spec.nodeName``), else the
hostname; node names and hostnames are normalised (lowercased, trailing dot,
``.local`` / ``.localdomain`` removed, first label kept).
"""

from __future__ import annotations

import os
import platform as _platform
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CONTAINER_SUBSTRATES",
    "DEFAULT_DOCKERENV_PATH",
    "HOST_SUBSTRATES",
    "MachineEvidence",
    "RuntimeDiscovery",
    "SUBSTRATES",
    "SubstrateEvidence",
    "detect_ci",
    "detect_orchestrators",
    "discover_machine",
    "discover_machine_evidence",
    "discover_runtime",
    "discover_substrate",
    "discover_substrate_evidence",
    "normalise_hostname",
]

DEFAULT_DOCKERENV_PATH = Path("/.dockerenv")

LOCAL_PROCESS = "local-process"
DOCKER = "docker-container"
PODMAN = "podman-container"
KUBERNETES = "kubernetes-pod"
CONTAINERD = "containerd-container"
LXC = "lxc-container"
NSPAWN = "systemd-nspawn-container"
WSL = "wsl"
CONTAINER_OTHER = "container-other"

SUBSTRATES: tuple[str, ...] = (
    LOCAL_PROCESS,
    DOCKER,
    PODMAN,
    KUBERNETES,
    CONTAINERD,
    LXC,
    NSPAWN,
    WSL,
    CONTAINER_OTHER,
)
"""Every substrate identifier discovery can report."""

HOST_SUBSTRATES: frozenset[str] = frozenset({LOCAL_PROCESS, WSL})
"""Substrates that are not containers."""

CONTAINER_SUBSTRATES: frozenset[str] = frozenset(SUBSTRATES) - HOST_SUBSTRATES
"""Substrates that are containers."""

_READ_LIMIT = 1 << 20  # bytes read from any probed file

_SERVICE_ACCOUNT_DIRS = (
    "var/run/secrets/kubernetes.io/serviceaccount",
    "run/secrets/kubernetes.io/serviceaccount",
)

# Values of the ``container`` variable / /run/systemd/container /
# /run/host/container-manager (systemd's CONTAINER_INTERFACE conventions).
_MANAGER_NAMES: dict[str, str] = {
    "docker": DOCKER,
    "podman": PODMAN,
    "libpod": PODMAN,
    "lxc": LXC,
    "lxc-libvirt": LXC,
    "lxd": LXC,
    "incus": LXC,
    "systemd-nspawn": NSPAWN,
    "containerd": CONTAINERD,
    "wsl": WSL,
}

_HEX_ID = r"[0-9a-f]{12,64}"
# Cgroup path patterns, anchored on whole path segments, in priority order.
_CGROUP_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (KUBERNETES, re.compile(r"(?:^|/)kubepods(?:[-.][^/]*)?(?:/|$)")),
    (KUBERNETES, re.compile(rf"(?:^|/)crio-(?:conmon-)?{_HEX_ID}\.scope(?:/|$)")),
    (PODMAN, re.compile(rf"(?:^|/)libpod-(?:conmon-)?{_HEX_ID}\.scope(?:/|$)")),
    (PODMAN, re.compile(r"(?:^|/)libpod_parent(?:/|$)")),
    (CONTAINERD, re.compile(rf"(?:^|/)(?:cri-containerd|nerdctl)-{_HEX_ID}\.scope(?:/|$)")),
    (DOCKER, re.compile(rf"(?:^|/)docker-{_HEX_ID}\.scope(?:/|$)")),
    (DOCKER, re.compile(rf"(?:^|/)docker/{_HEX_ID}(?:/|$)")),
    (LXC, re.compile(r"(?:^|/)lxc\.payload[.:][^/]+(?:/|$)")),
    (LXC, re.compile(r"(?:^|/)lxc/[^/]+(?:/|$)")),
)

# Substrings of the root mount's source / super options naming an engine.
_MOUNT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (KUBERNETES, re.compile(r"/var/lib/kubelet/pods/")),
    (DOCKER, re.compile(r"/var/lib/docker/")),
    (PODMAN, re.compile(r"/containers/storage/overlay")),
    (CONTAINERD, re.compile(r"/var/lib/containerd/|io\.containerd\.snapshotter")),
    (LXC, re.compile(r"/var/lib/lxc/|/var/(?:snap/lxd|lib/lxd|lib/incus)/")),
)

# Environment variables whose presence hints at CI or an orchestrator.
_CI_HINTS: tuple[tuple[str, str, str], ...] = (
    ("github-actions", "GITHUB_ACTIONS", "true"),
    ("gitlab-ci", "GITLAB_CI", "true"),
)
_ORCHESTRATOR_HINTS: tuple[tuple[str, str], ...] = (
    ("prefect", "PREFECT__FLOW_RUN_ID"),
    ("ray", "RAY_RAYLET_PID"),
    ("ray", "RAY_JOB_ID"),
    ("dask", "DASK_SCHEDULER_ADDRESS"),
)


@dataclass(frozen=True, slots=True)
class SubstrateEvidence:
    """Why discovery chose a substrate.

    Attributes
    ----------
    substrate:
        The identifier chosen (one of :data:`SUBSTRATES`, or the
        ``MXM_SUBSTRATE`` override verbatim).
    probe:
        The probe that fired, e.g. ``"env:KUBERNETES_SERVICE_HOST"``,
        ``"file:/.dockerenv"``, ``"cgroup"``, ``"mountinfo"``, ``"default"``.
    observed:
        What the probe saw (a variable value, a cgroup line, a mount source).
    checked:
        Every probe that was evaluated and what it saw, in order.
    notes:
        Files that could not be read, and conflicts that were resolved.
    """

    substrate: str
    probe: str
    observed: str
    checked: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def is_container(self) -> bool:
        """Whether the discovered substrate is a container."""
        return self.substrate not in HOST_SUBSTRATES


@dataclass(frozen=True, slots=True)
class MachineEvidence:
    """Why discovery chose a machine selector.

    Attributes
    ----------
    machine:
        The selector chosen.
    source:
        ``"MXM_MACHINE"``, ``"MXM_NODE_NAME"`` or ``"hostname"``.
    raw:
        The value before normalisation.
    container_hostname:
        ``True`` when the selector came from the hostname inside a container,
        where the hostname is usually a container id, not a machine.
    notes:
        Explanations (normalisation applied, container warning).
    """

    machine: str
    source: str
    raw: str
    container_hostname: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuntimeDiscovery:
    """Everything discovery found about this process, with its evidence.

    Attributes
    ----------
    machine, substrate:
        The machine and substrate evidence.
    hostname:
        The raw hostname.
    pid:
        The process id.
    python_version:
        ``platform.python_version()``.
    platform:
        ``platform.platform()``.
    ci:
        ``"github-actions"``, ``"gitlab-ci"``, ``"ci"`` (generic ``CI``) or ``None``.
    orchestrators:
        Worker hints: any of ``"prefect"``, ``"ray"``, ``"dask"``.
    """

    machine: MachineEvidence
    substrate: SubstrateEvidence
    hostname: str
    pid: int
    python_version: str
    platform: str
    ci: str | None = None
    orchestrators: tuple[str, ...] = field(default=())


_REAL_ROOT = Path("/")
_REAL_ROOT_EVIDENCE: dict[tuple[object, ...], SubstrateEvidence] = {}
"""Substrate evidence of this process's real filesystem, per pid and env values."""


# -- safe readers ------------------------------------------------------------


def _display(root: Path, path: Path) -> str:
    try:
        return "/" + path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _exists(path: Path, label: str, notes: list[str]) -> bool:
    try:
        os.stat(path)
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        return False
    except OSError as exc:
        notes.append(f"cannot check {label}: {type(exc).__name__}")
        return False
    return True


def _read(path: Path, label: str, notes: list[str]) -> str | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(_READ_LIMIT)
    except FileNotFoundError:
        return None
    except OSError as exc:
        notes.append(f"cannot read {label}: {type(exc).__name__}")
        return None
    return data.decode("utf-8", errors="replace")


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


# -- substrate ---------------------------------------------------------------


def _match_cgroup(text: str) -> tuple[str, str] | None:
    """Return (substrate, line) for the first anchored cgroup match."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    paths: list[tuple[str, str]] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            paths.append((parts[2], line))
    for substrate, pattern in _CGROUP_PATTERNS:
        for path, line in paths:
            if pattern.search(path):
                return substrate, line
    return None


def _root_mount(text: str) -> str | None:
    """Return ``"<fstype> <source> <options>"`` of the (topmost) mount at ``/``."""
    found: str | None = None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 7 or fields[4] != "/":
            continue
        try:
            sep = fields.index("-", 6)
        except ValueError:
            continue
        found = " ".join(fields[sep + 1 :])
    return found


def _match_mount(text: str) -> tuple[str, str] | None:
    root = _root_mount(text)
    if root is None:
        return None
    for substrate, pattern in _MOUNT_PATTERNS:
        if pattern.search(root):
            return substrate, root
    return None


def _manager_substrate(value: str) -> str:
    return _MANAGER_NAMES.get(value.strip().lower(), CONTAINER_OTHER)


def discover_substrate_evidence(
    *,
    root: Path = Path("/"),
    environ: Mapping[str, str] | None = None,
    dockerenv_path: Path | None = None,
    use_overrides: bool = True,
) -> SubstrateEvidence:
    """Run the substrate probes and return the choice with its evidence.

    Parameters
    ----------
    root:
        Filesystem root the probes read below (``/`` by default; a fixture
        tree in tests).
    environ:
        Environment mapping (``os.environ`` by default).
    dockerenv_path:
        Location of the Docker marker; ``<root>/.dockerenv`` by default.
    use_overrides:
        ``False`` ignores ``MXM_SUBSTRATE`` and reports only what the probes
        see (for attestation of a claimed substrate).

    Returns
    -------
    SubstrateEvidence
        The substrate, the probe that fired, what it saw, and notes for every
        file that could not be read.

    Raises
    ------
    Nothing
        Unreadable files are recorded in ``notes``.

    Notes
    -----
    Probes of the real filesystem (``root`` is ``/`` and no
    ``dockerenv_path``) run once per process: the result is kept per process
    id and per value of the environment variables the probes read, so a
    context build does not re-read ``/proc`` every time. Probes of any other
    root always run.
    """
    env = _environ(environ)
    if root != _REAL_ROOT or dockerenv_path is not None:
        return _probe_substrate(root, env, dockerenv_path, use_overrides)
    key = (
        os.getpid(),
        use_overrides,
        env.get("MXM_SUBSTRATE", "") if use_overrides else "",
        env.get("KUBERNETES_SERVICE_HOST", ""),
        env.get("container", ""),
    )
    found = _REAL_ROOT_EVIDENCE.get(key)
    if found is None:
        found = _probe_substrate(root, env, dockerenv_path, use_overrides)
        _REAL_ROOT_EVIDENCE[key] = found
    return found


def _probe_substrate(
    root: Path,
    env: Mapping[str, str],
    dockerenv_path: Path | None,
    use_overrides: bool,
) -> SubstrateEvidence:
    notes: list[str] = []
    checked: list[str] = []

    def done(substrate: str, probe: str, observed: str) -> SubstrateEvidence:
        checked.append(f"{probe} -> {substrate}")
        return SubstrateEvidence(substrate, probe, observed, tuple(checked), tuple(notes))

    override = env.get("MXM_SUBSTRATE", "") if use_overrides else ""
    if override:
        return done(override, "env:MXM_SUBSTRATE", override)
    checked.append("env:MXM_SUBSTRATE unset" if use_overrides else "env:MXM_SUBSTRATE ignored")

    k8s_host = env.get("KUBERNETES_SERVICE_HOST", "")
    if k8s_host:
        return done(KUBERNETES, "env:KUBERNETES_SERVICE_HOST", k8s_host)
    checked.append("env:KUBERNETES_SERVICE_HOST unset")
    for relative in _SERVICE_ACCOUNT_DIRS:
        label = "/" + relative
        if _exists(root / relative, label, notes):
            return done(KUBERNETES, f"dir:{label}", label)
        checked.append(f"dir:{label} absent")

    manager = env.get("container", "")
    if manager:
        return done(_manager_substrate(manager), "env:container", manager)
    checked.append("env:container unset")
    for relative in ("run/systemd/container", "run/host/container-manager"):
        label = "/" + relative
        text = _read(root / relative, label, notes)
        if text is not None and text.strip():
            value = text.strip().splitlines()[0]
            return done(_manager_substrate(value), f"file:{label}", value)
        checked.append(f"file:{label} absent")

    if _exists(root / "run/.containerenv", "/run/.containerenv", notes):
        return done(PODMAN, "file:/run/.containerenv", "present")
    checked.append("file:/run/.containerenv absent")

    cgroup_text = _read(root / "proc/self/cgroup", "/proc/self/cgroup", notes)
    cgroup = _match_cgroup(cgroup_text) if cgroup_text is not None else None
    mount_text = _read(root / "proc/self/mountinfo", "/proc/self/mountinfo", notes)
    mount = _match_mount(mount_text) if mount_text is not None else None

    marker = dockerenv_path if dockerenv_path is not None else root / ".dockerenv"
    marker_label = _display(root, marker)
    if _exists(marker, marker_label, notes):
        contradiction = next(
            (found for found in (cgroup, mount) if found is not None and found[0] != DOCKER),
            None,
        )
        if contradiction is None:
            return done(DOCKER, f"file:{marker_label}", "present")
        notes.append(
            f"{marker_label} is present but the kernel reports {contradiction[0]} "
            f"({contradiction[1]!r}); the marker is treated as stale"
        )
        checked.append(f"file:{marker_label} present but stale")
    else:
        checked.append(f"file:{marker_label} absent")

    if cgroup is not None:
        return done(cgroup[0], "cgroup:/proc/self/cgroup", cgroup[1])
    checked.append("cgroup:/proc/self/cgroup no container pattern")
    if mount is not None:
        return done(mount[0], "mountinfo:/proc/self/mountinfo", mount[1])
    checked.append("mountinfo:/proc/self/mountinfo root mount is not a container layer")

    for relative in ("proc/sys/kernel/osrelease", "proc/version"):
        label = "/" + relative
        text = _read(root / relative, label, notes)
        if text is not None and "microsoft" in text.lower():
            return done(WSL, f"kernel:{label}", text.strip().splitlines()[0])
        checked.append(f"kernel:{label} not WSL")

    return done(LOCAL_PROCESS, "default", "no container or WSL signal")


def discover_substrate(
    *,
    dockerenv_path: Path = DEFAULT_DOCKERENV_PATH,
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
    use_overrides: bool = True,
) -> str:
    """Return the substrate identifier of this process.

    Parameters
    ----------
    dockerenv_path:
        Location of the Docker marker (0.1.2 parameter). When ``root`` is
        given and this is left at its default, ``<root>/.dockerenv`` is used.
    root:
        Filesystem root for the probes (``/`` by default).
    environ:
        Environment mapping (``os.environ`` by default).
    use_overrides:
        ``False`` ignores ``MXM_SUBSTRATE``.

    Returns
    -------
    str
        One of :data:`SUBSTRATES`, or ``MXM_SUBSTRATE`` verbatim when set.
        See :func:`discover_substrate_evidence` for the probe order.

    Raises
    ------
    Nothing
        Unreadable files are skipped.
    """
    marker: Path | None = dockerenv_path
    if root is not None and dockerenv_path == DEFAULT_DOCKERENV_PATH:
        marker = None
    return discover_substrate_evidence(
        root=root if root is not None else Path("/"),
        environ=environ,
        dockerenv_path=marker,
        use_overrides=use_overrides,
    ).substrate


# -- machine -----------------------------------------------------------------


def normalise_hostname(hostname: str) -> str:
    """Return the machine selector a hostname stands for.

    Lowercases, strips whitespace and a trailing dot, removes a ``.local`` or
    ``.localdomain`` suffix and keeps the first label:
    ``"Bridge.local."`` -> ``"bridge"``.
    """
    name = hostname.strip().lower().rstrip(".")
    for suffix in (".localdomain", ".local"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.split(".", maxsplit=1)[0]


def discover_machine_evidence(
    *,
    environ: Mapping[str, str] | None = None,
    hostname: str | None = None,
    substrate: SubstrateEvidence | None = None,
    use_overrides: bool = True,
) -> MachineEvidence:
    """Choose the machine selector and say why.

    Parameters
    ----------
    environ:
        Environment mapping (``os.environ`` by default).
    hostname:
        Hostname (``socket.gethostname()`` by default).
    substrate:
        Substrate evidence, used to flag a container hostname; discovered
        from the real filesystem with ``environ`` when omitted and needed.
    use_overrides:
        ``False`` ignores ``MXM_MACHINE`` (``MXM_NODE_NAME`` is a fact set by
        the orchestrator and still counts).

    Returns
    -------
    MachineEvidence
        The selector, its source and notes.

    Raises
    ------
    Nothing
    """
    env = _environ(environ)
    explicit = env.get("MXM_MACHINE", "") if use_overrides else ""
    if explicit:
        return MachineEvidence(explicit, "MXM_MACHINE", explicit)
    node = env.get("MXM_NODE_NAME", "")
    if node:
        machine = normalise_hostname(node)
        notes = () if machine == node else (f"node name {node!r} normalised to {machine!r}",)
        return MachineEvidence(machine, "MXM_NODE_NAME", node, notes=notes)
    raw = socket.gethostname() if hostname is None else hostname
    machine = normalise_hostname(raw)
    notes_list: list[str] = []
    if machine != raw:
        notes_list.append(f"hostname {raw!r} normalised to {machine!r}")
    if not machine:
        notes_list.append("the hostname is empty; set MXM_MACHINE")
    if substrate is None:
        substrate = discover_substrate_evidence(environ=env, use_overrides=use_overrides)
    in_container = substrate.is_container
    if in_container:
        notes_list.append(
            f"running in {substrate.substrate} without MXM_MACHINE or MXM_NODE_NAME: "
            f"the hostname {raw!r} is probably a container id, not a machine; "
            "set MXM_MACHINE (or MXM_NODE_NAME from the Downward API)"
        )
    return MachineEvidence(machine, "hostname", raw, in_container, tuple(notes_list))


def discover_machine(
    *,
    environ: Mapping[str, str] | None = None,
    hostname: str | None = None,
    use_overrides: bool = True,
) -> str:
    """Return the machine selector of this process.

    ``MXM_MACHINE`` verbatim, else ``MXM_NODE_NAME`` normalised, else the
    hostname normalised (see :func:`normalise_hostname`). Use
    :func:`discover_machine_evidence` to learn which source was used.

    Parameters
    ----------
    environ:
        Environment mapping (``os.environ`` by default).
    hostname:
        Hostname (``socket.gethostname()`` by default).
    use_overrides:
        ``False`` ignores ``MXM_MACHINE`` (for attestation of a claim).

    Raises
    ------
    Nothing
    """
    return discover_machine_evidence(
        environ=environ, hostname=hostname, use_overrides=use_overrides
    ).machine


# -- hints and the whole picture ----------------------------------------------


def _truthy(value: str) -> bool:
    return value.strip().lower() not in {"", "0", "false", "no", "off"}


def detect_ci(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the CI system hinted by the environment, or ``None``.

    ``GITHUB_ACTIONS=true`` -> ``"github-actions"``, ``GITLAB_CI=true`` ->
    ``"gitlab-ci"``, any other true ``CI`` -> ``"ci"``.
    """
    env = _environ(environ)
    for name, variable, expected in _CI_HINTS:
        if env.get(variable, "").strip().lower() == expected:
            return name
    if _truthy(env.get("CI", "")):
        return "ci"
    return None


def detect_orchestrators(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Return worker hints: ``prefect`` (``PREFECT__FLOW_RUN_ID``), ``ray``
    (``RAY_RAYLET_PID`` / ``RAY_JOB_ID``), ``dask`` (``DASK_SCHEDULER_ADDRESS``).
    """
    env = _environ(environ)
    found: list[str] = []
    for name, variable in _ORCHESTRATOR_HINTS:
        if env.get(variable) and name not in found:
            found.append(name)
    return tuple(found)


def discover_runtime(
    *,
    root: Path = Path("/"),
    environ: Mapping[str, str] | None = None,
    hostname: str | None = None,
    pid: int | None = None,
) -> RuntimeDiscovery:
    """Run every probe once and return the whole picture.

    Parameters
    ----------
    root, environ, hostname:
        Injectable inputs (see the module docstring).
    pid:
        Process id (``os.getpid()`` by default).

    Raises
    ------
    Nothing
        Unreadable files are recorded in the evidence notes.
    """
    env = _environ(environ)
    raw_hostname = socket.gethostname() if hostname is None else hostname
    substrate = discover_substrate_evidence(root=root, environ=env)
    machine = discover_machine_evidence(environ=env, hostname=raw_hostname, substrate=substrate)
    return RuntimeDiscovery(
        machine=machine,
        substrate=substrate,
        hostname=raw_hostname,
        pid=os.getpid() if pid is None else pid,
        python_version=_platform.python_version(),
        platform=_platform.platform(),
        ci=detect_ci(env),
        orchestrators=detect_orchestrators(env),
    )
