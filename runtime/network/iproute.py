"""iproute2 (`ip`) from asyncio, and the names kubeloop gives what it creates.

Every network namespace, bridge, veth and host address kubeloop creates is
named after the process that owns it: `kl<pid in hex>` then a suffix
(`kl1a2b-<pod uid>` namespaces, `kl1a2bb<n>` bridges, `kl1a2bv<n>` veths,
`lo:kl1a2b` address labels). `sweep_stale()` finds what belongs to processes
that are no longer alive (a kubeloop killed with SIGKILL) and removes it, so a
new run starts clean; whatever a live kubeloop owns is left alone.

`available()` says whether this process may create namespaces (Linux, `ip`
installed, root or CAP_NET_ADMIN), with the reason when it may not.

Neighbours: `runtime.network.netns` (pod namespaces),
`runtime.network.hostaddresses` (addresses on lo).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = [
    "IpError",
    "available",
    "ip",
    "owner_tag",
    "sweep_stale",
]

NETNS_ETC = Path("/etc/netns")
_OWNED = re.compile(r"^(?:lo:)?kl([0-9a-f]+)(?:[-bvp]|$)")


class IpError(RuntimeError):
    """An `ip` command failed; the message has the command and its error."""


def owner_tag(pid: int | None = None) -> str:
    """The prefix of every name this process gives (`kl<pid hex>`)."""
    return f"kl{(pid if pid is not None else os.getpid()):x}"


def available() -> str | None:
    """None if the namespaces mode can run here, else why not."""
    if not sys.platform.startswith("linux"):
        return f"network namespaces need Linux (this is {sys.platform})"
    if shutil.which("ip") is None:
        return "iproute2's `ip` command is not installed"
    if os.geteuid() != 0 and not _has_net_admin():
        return "network namespaces need root or CAP_NET_ADMIN"
    result = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return f"`ip netns list` failed: {result.stderr.strip()}"
    return None


def _has_net_admin() -> bool:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << 12))  # CAP_NET_ADMIN
    return False


async def ip(*args: str, check: bool = True) -> str:
    """Run `ip ARGS`; its stdout. Raises `IpError` on failure when `check`."""
    process = await asyncio.create_subprocess_exec(
        "ip",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if check and process.returncode != 0:
        raise IpError(f"ip {' '.join(args)}: {err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_owner(name: str) -> bool:
    match = _OWNED.match(name)
    if match is None:
        return False
    pid = int(match.group(1), 16)
    return pid != os.getpid() and not _alive(pid)


def sweep_stale() -> list[str]:
    """Remove the namespaces, bridges and lo addresses of dead kubeloop processes;
    returns what was removed (synchronous: it runs once, at start)."""
    removed: list[str] = []

    def run(*args: str) -> str:
        result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
        return result.stdout if result.returncode == 0 else ""

    for line in run("netns", "list").splitlines():
        name = line.split()[0] if line.split() else ""
        if _dead_owner(name):
            run("netns", "del", name)
            shutil.rmtree(NETNS_ETC / name, ignore_errors=True)
            removed.append(f"netns {name}")
    for line in run("-o", "link", "show").splitlines():
        parts = line.split(":")
        if len(parts) < 2:
            continue
        name = parts[1].strip().split("@")[0]
        if _dead_owner(name):
            run("link", "del", name)
            removed.append(f"link {name}")
    for line in run("-o", "-4", "addr", "show", "dev", "lo").splitlines():
        fields = line.split()
        if "inet" not in fields:
            continue
        address = fields[fields.index("inet") + 1]
        label = next((f.rstrip("\\") for f in fields if f.startswith("lo:")), "")
        if label and _dead_owner(label):
            run("addr", "del", address, "dev", "lo")
            removed.append(f"address {address}")
    return removed
