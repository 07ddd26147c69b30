"""The place and the environment a process-runtime pod runs in.

A pod's sandbox is a directory under the runtime's root, named like the
kubelet's pod log directory, `<namespace>_<name>_<uid>`:

    work/                          the containers' working directory (shared by
                                   the pod's containers, like an emptyDir)
    logs/<container>/<n>.log       one log per container instance (and its
                                   rotated files <n>.log.<generation>)
    containers/<container>/termination-log
                                   where a container may write its termination
                                   message ($KUBELOOP_TERMINATION_MESSAGE_PATH)

`container_environment` builds a container's environment, in increasing
precedence: the host's environment (so PATH, HOME and a virtualenv keep
working; `inherit=False` keeps only PATH), `PYTHONUNBUFFERED=1` (so Python
output reaches the log as it is printed), the pod's variables, and last the
container's own `env` (already resolved by the kubelet). The pod's variables:

* `POD_IP`, `KUBELOOP_POD_IP`: the pod's address on its network
  (`runtime.network.podnetwork`), where its containers listen and where
  probes reach them;
* `HOSTNAME` (the pod's hostname), `KUBELOOP_POD_NAME`, `KUBELOOP_POD_NAMESPACE`,
  `KUBELOOP_POD_UID`, `KUBELOOP_CONTAINER_NAME`, `KUBELOOP_POD_DIR` (work/);
* `PORT`: the container's first declared `containerPort`, and
  `KUBELOOP_PORT_<NAME>` for every named port (upper case, `-` as `_`);
* `KUBELOOP_TERMINATION_MESSAGE_PATH`: the file read as the termination message;
* `KUBELOOP_RUN_DIR` (added by `runtime.runtimes.process`): the runtime's run
  folder, by which kubeloop recognises its processes after a crash.

`resolve_working_dir` and `find_executable` check, before anything is
spawned, what would otherwise make the start fail, and say why in the words
containerd uses, so the kubelet can show it as a StartError message.

Neighbours: `runtime.runtimes.process` (the only user),
`runtime.runtimes.protocol` (PodSandboxConfig, ContainerConfig).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runtime.runtimes.protocol import ContainerConfig, PodSandboxConfig

__all__ = [
    "SandboxDirectory",
    "StartFailure",
    "container_environment",
    "find_executable",
    "resolve_working_dir",
]

MAX_TERMINATION_MESSAGE = 4096
"""Kubernetes keeps at most this many bytes of a termination message."""


class StartFailure(Exception):
    """A container cannot start; the message is shown as the StartError message."""


@dataclass(frozen=True, slots=True)
class SandboxDirectory:
    """The directory tree of one pod sandbox (see the module docstring)."""

    root: Path

    @classmethod
    def create(cls, runtime_root: Path, config: PodSandboxConfig) -> SandboxDirectory:
        name = _safe(f"{config.namespace}_{config.name}_{config.pod_uid}")
        directory = cls(runtime_root / name)
        directory.work.mkdir(parents=True, exist_ok=True)
        return directory

    @property
    def work(self) -> Path:
        return self.root / "work"

    def log_path(self, container: str, instance: int) -> Path:
        return self.root / "logs" / _safe(container) / f"{instance}.log"

    def termination_message_path(self, container: str) -> Path:
        return self.root / "containers" / _safe(container) / "termination-log"

    def read_termination_message(self, container: str) -> str | None:
        try:
            with self.termination_message_path(container).open("rb") as message:
                data = message.read(MAX_TERMINATION_MESSAGE)
        except OSError:
            return None
        return data.decode("utf-8", errors="replace") or None

    def reset_termination_message(self, container: str) -> None:
        path = self.termination_message_path(container)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def container_environment(
    sandbox: PodSandboxConfig,
    directory: SandboxDirectory,
    config: ContainerConfig,
    *,
    pod_ip: str,
    inherit: bool = True,
) -> dict[str, str]:
    """The environment of `config`'s process (precedence in the module docstring)."""
    if inherit:
        env = dict(os.environ)
    else:
        env = {"PATH": os.environ.get("PATH", os.defpath)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(
        {
            "POD_IP": pod_ip,
            "KUBELOOP_POD_IP": pod_ip,
            "HOSTNAME": sandbox.hostname,
            "KUBELOOP_POD_NAME": sandbox.name,
            "KUBELOOP_POD_NAMESPACE": sandbox.namespace,
            "KUBELOOP_POD_UID": sandbox.pod_uid,
            "KUBELOOP_CONTAINER_NAME": config.name,
            "KUBELOOP_POD_DIR": str(directory.work),
            "KUBELOOP_TERMINATION_MESSAGE_PATH": str(
                directory.termination_message_path(config.name)
            ),
        }
    )
    if config.ports:
        env["PORT"] = str(config.ports[0].container_port)
    for port in config.ports:
        if port.name:
            variable = re.sub(r"[^A-Z0-9_]", "_", port.name.upper())
            env[f"KUBELOOP_PORT_{variable}"] = str(port.container_port)
    env.update(config.env)
    return env


def resolve_working_dir(directory: SandboxDirectory, working_dir: str | None) -> Path:
    """The process's working directory: the pod's work/ by default, a relative
    `workingDir` inside it (created), an absolute one as is (it must exist: the
    process runs on this machine, not in an image)."""
    if not working_dir:
        return directory.work
    path = Path(working_dir)
    if not path.is_absolute():
        path = directory.work / path
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StartFailure(
                f"chdir to cwd ({working_dir!r}) set in config failed: {error.strerror}"
            ) from error
        return path
    if not path.is_dir():
        raise StartFailure(
            f"chdir to cwd ({working_dir!r}) set in config failed: no such directory "
            "(the process runtime runs containers on this machine, not in their image)"
        )
    return path


def find_executable(argv: list[str], env: Mapping[str, str], cwd: Path) -> None:
    """Raise `StartFailure` unless `argv[0]` names a runnable program."""
    if not argv:
        raise StartFailure(
            "no command specified: the process runtime ignores images, so a container "
            "needs a command (or args) to run"
        )
    program = argv[0]
    if "/" in program:
        path = cwd / program
        if not path.is_file():
            raise StartFailure(f'exec: "{program}": no such file or directory')
        if not os.access(path, os.X_OK):
            raise StartFailure(f'exec: "{program}": permission denied')
        return
    if shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        raise StartFailure(f'exec: "{program}": executable file not found in $PATH')


def _safe(name: str) -> str:
    """A name usable as one path component."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"
