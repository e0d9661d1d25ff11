"""Discovery probes against fixture filesystem trees (no dependence on this host).

Each fixture is a small tree under ``tmp_path`` that mimics what a process sees
on one substrate: ``/proc/self/cgroup``, ``/proc/self/mountinfo``, marker files.
Tests run as root in CI, so ``chmod 000`` would not make a file unreadable;
an *unreadable* ``/proc`` file is simulated by making its path a directory
(``open`` then fails with ``IsADirectoryError``, an ``OSError`` like
``PermissionError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from mxm.types import RuntimeIdentity

from mxm.runtime import discovery
from mxm.runtime.context import RuntimeMetadata
from mxm.runtime.discovery import (
    CONTAINER_SUBSTRATES,
    DEFAULT_DOCKERENV_PATH,
    SUBSTRATES,
    detect_ci,
    detect_orchestrators,
    discover_machine,
    discover_machine_evidence,
    discover_runtime,
    discover_substrate,
    discover_substrate_evidence,
    normalise_hostname,
)
from mxm.runtime.materialise import materialise_metadata

CID = "3f4e1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"

HOST_MOUNTINFO = (
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "25 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
)
DOCKER_ROOT_MOUNTINFO = (
    "1201 1100 0:95 / / rw,relatime master:310 - overlay overlay rw,"
    "lowerdir=/var/lib/docker/overlay2/l/ABCDEF:/var/lib/docker/overlay2/l/GHIJKL,"
    f"upperdir=/var/lib/docker/overlay2/{CID}/diff,"
    f"workdir=/var/lib/docker/overlay2/{CID}/work\n"
    "1202 1201 0:98 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
    f"1210 1201 8:1 /var/lib/docker/containers/{CID}/hostname /etc/hostname rw "
    "- ext4 /dev/sda1 rw\n"
)
# What the *host* sees when it runs Docker: container layers mounted below
# /var/lib/docker, never at /.
HOST_RUNNING_DOCKER_MOUNTINFO = HOST_MOUNTINFO + (
    f"300 22 0:95 / /var/lib/docker/overlay2/{CID}/merged rw,relatime shared:150 - overlay "
    "overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABCDEF,"
    f"upperdir=/var/lib/docker/overlay2/{CID}/diff\n"
)


def make_tree(root: Path, files: dict[str, str | None]) -> Path:
    """Create ``files`` under ``root``; ``None`` makes an (unreadable-as-file) directory."""
    for relative, content in files.items():
        path = root / relative
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    return root


# -- the fixture trees the issue names ----------------------------------------------


def test_cgroup_v1_docker(tmp_path: Path) -> None:
    cgroup = "".join(
        f"{n}:{ctrl}:/docker/{CID}\n"
        for n, ctrl in enumerate(["cpuset", "cpu,cpuacct", "memory", "pids"], start=1)
    )
    root = make_tree(tmp_path, {"proc/self/cgroup": cgroup, "proc/self/mountinfo": HOST_MOUNTINFO})
    evidence = discover_substrate_evidence(root=root, environ={})
    assert evidence.substrate == "docker-container"
    assert evidence.probe == "cgroup:/proc/self/cgroup"
    assert CID in evidence.observed
    assert evidence.is_container
    assert evidence.notes == ()


def test_cgroup_v1_docker_systemd_driver(tmp_path: Path) -> None:
    cgroup = f"4:memory:/system.slice/docker-{CID}.scope\n"
    root = make_tree(tmp_path, {"proc/self/cgroup": cgroup})
    assert discover_substrate(root=root, environ={}) == "docker-container"


def test_cgroup_v2_root_with_docker_root_mount(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {"proc/self/cgroup": "0::/\n", "proc/self/mountinfo": DOCKER_ROOT_MOUNTINFO},
    )
    evidence = discover_substrate_evidence(root=root, environ={})
    assert evidence.substrate == "docker-container"
    assert evidence.probe == "mountinfo:/proc/self/mountinfo"
    assert evidence.observed.startswith("overlay overlay")
    assert "/var/lib/docker/" in evidence.observed


def test_kubepods_cgroup(tmp_path: Path) -> None:
    cgroup = (
        "0::/kubepods.slice/kubepods-burstable.slice/"
        "kubepods-burstable-pod0a1b2c3d_4e5f.slice/"
        f"cri-containerd-{CID}.scope\n"
    )
    root = make_tree(tmp_path, {"proc/self/cgroup": cgroup, "proc/self/mountinfo": HOST_MOUNTINFO})
    evidence = discover_substrate_evidence(root=root, environ={})
    assert evidence.substrate == "kubernetes-pod"
    assert evidence.probe == "cgroup:/proc/self/cgroup"


def test_kubepods_cgroup_v1_cgroupfs(tmp_path: Path) -> None:
    cgroup = f"11:memory:/kubepods/besteffort/pod1234/{CID}\n"
    root = make_tree(tmp_path, {"proc/self/cgroup": cgroup})
    assert discover_substrate(root=root, environ={}) == "kubernetes-pod"


def test_podman_containerenv(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "run/.containerenv": 'engine="podman-4.9.3"\nname="worker"\n',
            "proc/self/cgroup": "0::/\n",
        },
    )
    evidence = discover_substrate_evidence(root=root, environ={})
    assert evidence.substrate == "podman-container"
    assert evidence.probe == "file:/run/.containerenv"


def test_podman_libpod_cgroup(tmp_path: Path) -> None:
    cgroup = f"0::/machine.slice/libpod-{CID}.scope/container\n"
    root = make_tree(tmp_path, {"proc/self/cgroup": cgroup})
    assert discover_substrate(root=root, environ={}) == "podman-container"


@pytest.mark.parametrize(
    "cgroup",
    [
        # dockerd and containerd themselves, on the host
        "0::/system.slice/docker.service\n",
        "12:pids:/system.slice/docker.service\n11:memory:/system.slice/containerd.service\n",
        # a login shell of a user in the docker group
        "0::/user.slice/user-1000.slice/session-3.scope\n",
        # names that merely contain the words
        "0::/user.slice/docker-compose-dev.slice\n",
        "0::/system.slice/lxcfs.service\n",
        "0::/system.slice/kubelet.service\n",
    ],
)
def test_host_running_docker_is_not_a_container(tmp_path: Path, cgroup: str) -> None:
    root = make_tree(
        tmp_path,
        {
            "proc/self/cgroup": cgroup,
            "proc/self/mountinfo": HOST_RUNNING_DOCKER_MOUNTINFO,
            "proc/sys/kernel/osrelease": "6.8.0-45-generic\n",
            "proc/version": "Linux version 6.8.0-45-generic (buildd@lcy02) gcc 13\n",
            "var/lib/docker/overlay2/.keep": "",
        },
    )
    evidence = discover_substrate_evidence(root=root, environ={"PATH": "/usr/bin"})
    assert evidence.substrate == "local-process"
    assert evidence.probe == "default"
    assert not evidence.is_container
    assert evidence.notes == ()


def test_image_dockerenv_under_kubernetes_env(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {".dockerenv": "", "proc/self/cgroup": "0::/\n"})
    evidence = discover_substrate_evidence(
        root=root, environ={"KUBERNETES_SERVICE_HOST": "10.96.0.1"}
    )
    assert evidence.substrate == "kubernetes-pod"
    assert evidence.probe == "env:KUBERNETES_SERVICE_HOST"
    assert evidence.observed == "10.96.0.1"


def test_image_dockerenv_under_kubernetes_service_account(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            ".dockerenv": "",
            "var/run/secrets/kubernetes.io/serviceaccount/namespace": "mxm\n",
        },
    )
    evidence = discover_substrate_evidence(root=root, environ={})
    assert evidence.substrate == "kubernetes-pod"
    assert evidence.probe == "dir:/var/run/secrets/kubernetes.io/serviceaccount"


def test_stale_dockerenv_loses_to_kubepods_cgroup(tmp_path: Path) -> None:
    # No Kubernetes variable or service account (automount disabled), but the
    # kernel puts the process in a kubepods cgroup: the marker is stale.
    cgroup = f"0::/kubepods/burstable/pod42/{CID}\n"
    root = make_tree(tmp_path, {".dockerenv": "", "proc/self/cgroup": cgroup})
    evidence = discover_substrate_evidence(root=root, environ={})
    assert evidence.substrate == "kubernetes-pod"
    assert evidence.probe == "cgroup:/proc/self/cgroup"
    assert any("stale" in note for note in evidence.notes)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("proc/sys/kernel/osrelease", "5.15.153.1-microsoft-standard-WSL2\n"),
        ("proc/version", "Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com)\n"),
    ],
)
def test_wsl_kernel(tmp_path: Path, path: str, text: str) -> None:
    root = make_tree(
        tmp_path,
        {"proc/self/cgroup": "0::/\n", "proc/self/mountinfo": HOST_MOUNTINFO, path: text},
    )
    evidence = discover_substrate_evidence(root=root, environ={})
    assert evidence.substrate == "wsl"
    assert evidence.probe == f"kernel:/{path}"
    assert not evidence.is_container


def test_docker_inside_wsl_is_docker(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {".dockerenv": "", "proc/sys/kernel/osrelease": "5.15.153.1-microsoft-standard-WSL2\n"},
    )
    assert discover_substrate(root=root, environ={}) == "docker-container"


def test_stale_marker_with_unreadable_proc_files(tmp_path: Path) -> None:
    # /.dockerenv present; every /proc file is a directory, so reading fails.
    root = make_tree(
        tmp_path,
        {
            ".dockerenv": "",
            "proc/self/cgroup": None,
            "proc/self/mountinfo": None,
            "proc/sys/kernel/osrelease": None,
            "proc/version": None,
            "run/systemd/container": None,
        },
    )
    evidence = discover_substrate_evidence(root=root, environ={})
    assert evidence.substrate == "docker-container"
    assert evidence.probe == "file:/.dockerenv"
    joined = "\n".join(evidence.notes)
    assert "cannot read /proc/self/cgroup: IsADirectoryError" in joined
    assert "cannot read /proc/self/mountinfo: IsADirectoryError" in joined
    assert "cannot read /run/systemd/container: IsADirectoryError" in joined


def test_stale_marker_under_kubernetes_with_unreadable_proc(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            ".dockerenv": "",
            "run/secrets/kubernetes.io/serviceaccount/token": "x",
            "proc/self/cgroup": None,
            "proc/self/mountinfo": None,
        },
    )
    evidence = discover_substrate_evidence(root=root, environ={})
    assert evidence.substrate == "kubernetes-pod"


def test_unreadable_everything_falls_back_to_local_process(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "proc/self/cgroup": None,
            "proc/self/mountinfo": None,
            "proc/sys/kernel/osrelease": None,
            "proc/version": None,
        },
    )
    evidence = discover_substrate_evidence(root=root, environ={})
    assert evidence.substrate == "local-process"
    assert len(evidence.notes) == 4


def test_unreadable_marker_directory_is_noted_not_raised(tmp_path: Path) -> None:
    # A path below a regular file: stat raises NotADirectoryError -> "absent".
    root = make_tree(tmp_path, {"run": "not a directory"})
    evidence = discover_substrate_evidence(root=root, environ={})
    assert evidence.substrate == "local-process"


# -- the other probes ----------------------------------------------------------------


def test_empty_tree_is_local_process(tmp_path: Path) -> None:
    evidence = discover_substrate_evidence(root=tmp_path, environ={})
    assert evidence.substrate == "local-process"
    assert evidence.probe == "default"
    assert evidence.checked[0] == "env:MXM_SUBSTRATE unset"
    assert evidence.checked[-1] == "default -> local-process"


def test_mxm_substrate_override_beats_everything(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {".dockerenv": "", "run/.containerenv": ""})
    evidence = discover_substrate_evidence(
        root=root,
        environ={"MXM_SUBSTRATE": "local-process", "KUBERNETES_SERVICE_HOST": "10.0.0.1"},
    )
    assert evidence.substrate == "local-process"
    assert evidence.probe == "env:MXM_SUBSTRATE"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("docker", "docker-container"),
        ("podman", "podman-container"),
        ("lxc", "lxc-container"),
        ("systemd-nspawn", "systemd-nspawn-container"),
        ("oci", "container-other"),
        ("wsl", "wsl"),
    ],
)
def test_container_manager_declarations(tmp_path: Path, value: str, expected: str) -> None:
    assert discover_substrate(root=tmp_path, environ={"container": value}) == expected
    root = make_tree(tmp_path / "a", {"run/systemd/container": value + "\n"})
    assert discover_substrate(root=root, environ={}) == expected
    root = make_tree(tmp_path / "b", {"run/host/container-manager": value + "\n"})
    assert discover_substrate(root=root, environ={}) == expected


@pytest.mark.parametrize(
    ("cgroup", "expected"),
    [
        (f"0::/system.slice/nerdctl-{CID}.scope\n", "containerd-container"),
        (f"0::/kubepods.slice/crio-{CID}.scope\n", "kubernetes-pod"),
        (f"0::/crio-{CID}.scope\n", "kubernetes-pod"),
        ("0::/lxc.payload.web01/init.scope\n", "lxc-container"),
        ("12:memory:/lxc/web01\n", "lxc-container"),
    ],
)
def test_other_cgroup_engines(tmp_path: Path, cgroup: str, expected: str) -> None:
    root = make_tree(tmp_path, {"proc/self/cgroup": cgroup})
    assert discover_substrate(root=root, environ={}) == expected


def test_0_1_2_dockerenv_path_parameter(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    marker.write_text("")
    # The 0.1.2 keyword still chooses the marker location.
    assert discover_substrate(dockerenv_path=marker, root=tmp_path / "empty", environ={}) == (
        "docker-container"
    )
    assert discover_substrate(dockerenv_path=tmp_path / "nope", root=tmp_path, environ={}) == (
        "local-process"
    )
    assert Path("/.dockerenv") == DEFAULT_DOCKERENV_PATH


def test_real_host_discovery_never_raises() -> None:
    # Whatever this host is, the real probes return a known identifier.
    assert discover_substrate(environ={}) in SUBSTRATES
    assert isinstance(discover_machine(environ={}), str)


def test_identifiers_are_exactly_the_documented_ones() -> None:
    assert SUBSTRATES == (
        "local-process",
        "docker-container",
        "podman-container",
        "kubernetes-pod",
        "containerd-container",
        "lxc-container",
        "systemd-nspawn-container",
        "wsl",
        "container-other",
    )
    assert "local-process" not in CONTAINER_SUBSTRATES
    assert "wsl" not in CONTAINER_SUBSTRATES


# -- machine -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        ("bridge", "bridge"),
        ("Bridge.local", "bridge"),
        ("bridge.local.", "bridge"),
        ("MONOLITH.localdomain", "monolith"),
        ("monolith.example.com.", "monolith"),
        (" worker-7 ", "worker-7"),
    ],
)
def test_normalise_hostname(hostname: str, expected: str) -> None:
    assert normalise_hostname(hostname) == expected
    assert discover_machine(environ={}, hostname=hostname) == expected


def test_mxm_machine_beats_node_name_and_hostname(tmp_path: Path) -> None:
    env = {"MXM_MACHINE": "Monolith", "MXM_NODE_NAME": "node-a"}
    assert discover_machine(environ=env, hostname="bridge") == "Monolith"
    evidence = discover_machine_evidence(environ=env, hostname="bridge")
    assert (evidence.source, evidence.machine) == ("MXM_MACHINE", "Monolith")


def test_node_name_from_downward_api() -> None:
    env = {"MXM_NODE_NAME": "IP-10-0-1-23.ec2.internal"}
    assert discover_machine(environ=env, hostname="worker-5d8f7c9b4-x2x7k") == "ip-10-0-1-23"
    evidence = discover_machine_evidence(environ=env, hostname="worker-5d8f7c9b4-x2x7k")
    assert evidence.source == "MXM_NODE_NAME"
    assert evidence.raw == "IP-10-0-1-23.ec2.internal"
    assert not evidence.container_hostname


def test_container_hostname_is_flagged(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {".dockerenv": ""})
    substrate = discover_substrate_evidence(root=root, environ={})
    evidence = discover_machine_evidence(environ={}, hostname=CID[:12], substrate=substrate)
    assert evidence.machine == CID[:12]
    assert evidence.source == "hostname"
    assert evidence.container_hostname
    assert any("container id" in note and "MXM_MACHINE" in note for note in evidence.notes)


def test_host_hostname_is_not_flagged(tmp_path: Path) -> None:
    substrate = discover_substrate_evidence(root=tmp_path, environ={})
    evidence = discover_machine_evidence(environ={}, hostname="bridge", substrate=substrate)
    assert not evidence.container_hostname
    assert evidence.notes == ()


def test_empty_hostname_is_noted(tmp_path: Path) -> None:
    substrate = discover_substrate_evidence(root=tmp_path, environ={})
    evidence = discover_machine_evidence(environ={}, hostname="", substrate=substrate)
    assert evidence.machine == ""
    assert any("empty" in note for note in evidence.notes)


# -- hints and metadata ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"GITHUB_ACTIONS": "true", "CI": "true"}, "github-actions"),
        ({"GITLAB_CI": "true", "CI": "true"}, "gitlab-ci"),
        ({"CI": "1"}, "ci"),
        ({"CI": "false"}, None),
    ],
)
def test_detect_ci(env: dict[str, str], expected: str | None) -> None:
    assert detect_ci(env) == expected


def test_detect_orchestrators() -> None:
    assert detect_orchestrators({}) == ()
    env = {"PREFECT__FLOW_RUN_ID": "f0", "RAY_RAYLET_PID": "12", "RAY_JOB_ID": "01000000"}
    assert detect_orchestrators(env) == ("prefect", "ray")
    assert detect_orchestrators({"DASK_SCHEDULER_ADDRESS": "tcp://s:8786"}) == ("dask",)


def test_discover_runtime_collects_everything(tmp_path: Path) -> None:
    cgroup = f"0::/kubepods/burstable/pod42/{CID}\n"
    root = make_tree(tmp_path, {"proc/self/cgroup": cgroup})
    env = {"MXM_NODE_NAME": "node-a", "GITHUB_ACTIONS": "true", "PREFECT__FLOW_RUN_ID": "x"}
    found = discover_runtime(root=root, environ=env, hostname="worker-abc", pid=4242)
    assert found.substrate.substrate == "kubernetes-pod"
    assert found.machine.machine == "node-a"
    assert (found.hostname, found.pid) == ("worker-abc", 4242)
    assert (found.ci, found.orchestrators) == ("github-actions", ("prefect",))
    assert found.python_version.startswith("3.")


def _identity(substrate: str) -> RuntimeIdentity:
    return RuntimeIdentity(
        app="mxm-moneymachine",
        environment="dev",
        machine="bridge",
        substrate=substrate,
        role="research",
    )


def test_materialise_metadata_is_pure_over_discovery(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {".dockerenv": ""})
    found = discover_runtime(root=root, environ={"CI": "true"}, hostname="abc123", pid=7)
    meta = materialise_metadata(_identity("local-process"), found)
    assert meta.substrate == "local-process"
    assert meta.is_container is False  # follows the declared, known substrate
    assert meta.discovered_substrate == "docker-container"
    assert (meta.hostname, meta.pid, meta.ci) == ("abc123", 7, "ci")
    assert meta.evidence is found
    assert meta == materialise_metadata(_identity("local-process"), found)


def test_materialise_metadata_custom_substrate_uses_discovery(tmp_path: Path) -> None:
    found = discover_runtime(root=tmp_path, environ={}, hostname="bridge", pid=1)
    assert materialise_metadata(_identity("test-bench"), found).is_container is False
    root = make_tree(tmp_path / "c", {".dockerenv": ""})
    found = discover_runtime(root=root, environ={}, hostname="bridge", pid=1)
    assert materialise_metadata(_identity("test-bench"), found).is_container is True


def test_metadata_keeps_0_1_2_shape() -> None:
    meta = RuntimeMetadata("docker-container", True)
    assert (meta.substrate, meta.is_container, meta.evidence) == ("docker-container", True, None)
    assert materialise_metadata(_identity("kubernetes-pod")) == RuntimeMetadata(
        "kubernetes-pod", True
    )


def test_overrides_can_be_ignored_for_attestation(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {".dockerenv": ""})
    env = {"MXM_SUBSTRATE": "local-process", "MXM_MACHINE": "bridge", "MXM_NODE_NAME": "node-a"}
    assert discover_substrate(root=root, environ=env) == "local-process"
    assert discover_substrate(root=root, environ=env, use_overrides=False) == "docker-container"
    evidence = discover_substrate_evidence(root=root, environ=env, use_overrides=False)
    assert evidence.checked[0] == "env:MXM_SUBSTRATE ignored"
    assert discover_machine(environ=env, hostname="h") == "bridge"
    assert discover_machine(environ=env, hostname="h", use_overrides=False) == "node-a"
    machine = discover_machine_evidence(
        environ={"MXM_MACHINE": "bridge"}, hostname="abc", use_overrides=False
    )
    assert (machine.source, machine.machine) == ("hostname", "abc")


def test_real_filesystem_probes_run_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    real_probe = discovery._probe_substrate

    def counting_probe(
        root: Path, env: Mapping[str, str], marker: Path | None, use_overrides: bool
    ) -> discovery.SubstrateEvidence:
        calls.append(root)
        return real_probe(root, env, marker, use_overrides)

    monkeypatch.setattr(discovery, "_probe_substrate", counting_probe)
    monkeypatch.setattr(discovery, "_REAL_ROOT_EVIDENCE", {})
    env = {"PATH": "/usr/bin"}
    first = discovery.discover_substrate_evidence(environ=env)
    assert discovery.discover_substrate_evidence(environ=env) is first
    assert calls == [Path("/")]
    # A variable the probes read is part of the key: a new value probes again.
    forced = discovery.discover_substrate_evidence(environ={**env, "MXM_SUBSTRATE": "wsl"})
    assert forced.substrate == "wsl"
    assert len(calls) == 2
    # Fixture roots are never cached.
    discovery.discover_substrate_evidence(root=Path("/nonexistent-root"), environ=env)
    discovery.discover_substrate_evidence(root=Path("/nonexistent-root"), environ=env)
    assert calls[2:] == [Path("/nonexistent-root")] * 2
