"""`kubeloop serve` and `kubeloop kubeconfig`: a cluster behind the Kubernetes
HTTP API, for kubectl and any client.

    kubeloop serve [FILES...] [--nodes N] [--runtime simulated|process]
                   [--address A] [--port P] [--kubeconfig PATH] [--speed X]
                   [--insecure-http] [--data-dir DIR] [--etcd-servers URL[,URL...]]
                   [--role all|apiserver|controllers|scheduler]
                   [--leader-elect | --no-leader-elect]
                   [--leader-elect-lease-duration S] [--leader-elect-renew-deadline S]
                   [--leader-elect-retry-period S]
    kubeloop kubeconfig [--kubeconfig PATH]

`serve` starts a cluster and its API (TLS with a CA made for this run unless
`--insecure-http`; 127.0.0.1 and a free port unless told), applies FILES,
writes the kubeconfig atomically once all of that is ready (so a script may
wait for the file to appear), prints how to point kubectl at it, and runs
until SIGINT, SIGTERM or SIGHUP. It then stops every process it started and
removes the kubeconfig it wrote (the token in it dies with the server). Time
is real by default; `--speed X` runs cluster time X times as fast as the wall
clock (a virtual clock paced at X; timeouts such as a watch's
`timeoutSeconds` pass X times faster too). Exit status: 0 after a stop
signal, 2 for bad input (one line on stderr, nothing started).

`--role` splits the control plane into processes (`runtime.components`):
`apiserver` serves the cluster without its controllers and scheduler;
`controllers` and `scheduler` run those against the server whose kubeconfig
`--kubeconfig` names (read, not written, as kube-controller-manager's flag),
as leader-elected candidates (the `--leader-elect-*` durations in seconds,
client-go's 15, 10 and 2 by default). A component exits with status 1 when
it loses its Lease, as the Kubernetes components do.

`kubeconfig` prints the kubeconfig a running `serve` wrote (default path:
`~/.kube/kubeloop.yaml`), or fails with status 1 if there is none.

Neighbours: `runtime.cli` (registers these), `runtime.cluster` (`Cluster.serve`),
`runtime.apiserver`, `runtime.stopsignals`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import sys
from pathlib import Path
from typing import Any

import anyio

from engine.clock import VirtualClock
from engine.errors import ApiError
from engine.leaderelection import LeaseTiming
from runtime import stopsignals
from runtime.apiserver import DEFAULT_KUBECONFIG, Endpoint
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.cluster.config import MAX_NODES
from runtime.cluster.serving import ServeOptions
from runtime.components import (
    COMPONENT_ROLES,
    ROLES,
    ComponentOptions,
    LeadershipLost,
    default_identity,
    run_component,
)
from runtime.remote import Connection

__all__ = ["COMMANDS", "main", "register"]

COMMANDS = ("serve", "kubeconfig")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 to 65535, got {value}")
    return value


def register(sub: Any) -> None:
    """Add `serve` and `kubeconfig` to `kubeloop`'s subparsers."""
    serve = sub.add_parser(
        "serve",
        help="run a cluster behind the Kubernetes HTTP API (for kubectl and clients)",
        description="Start a cluster with its Kubernetes HTTP API, apply FILES, write the "
        "kubeconfig, and run until Ctrl-C.",
    )
    serve.add_argument("files", nargs="*", type=Path, help="manifests to apply at start")
    serve.add_argument("--nodes", type=int, default=3, help="simulated nodes (default 3)")
    serve.add_argument(
        "--runtime",
        choices=("simulated", "process"),
        default="simulated",
        help="container runtime: simulated, or real local processes",
    )
    serve.add_argument("--address", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=_port, default=0, help="port (default: a free one)")
    _kubeconfig_option(serve)
    serve.add_argument(
        "--speed",
        type=_positive,
        default=None,
        metavar="X",
        help="cluster time runs X times as fast as the wall clock (default: real time)",
    )
    serve.add_argument(
        "--insecure-http", action="store_true", help="serve plain HTTP instead of TLS"
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep the cluster's state in DIR and start from what it holds (engine.durable)",
    )
    serve.add_argument(
        "--etcd-servers",
        default=None,
        metavar="URL[,URL...]",
        help="keep the state in etcd (http://HOST:PORT, comma-separated members), as "
        "kube-apiserver does; several apiservers may share it",
    )
    serve.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="all (default); apiserver: no controllers or scheduler; controllers or "
        "scheduler: run those against the server --kubeconfig names",
    )
    serve.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="controllers and scheduler roles: run only while holding the role's Lease",
    )
    defaults = LeaseTiming()
    for flag, value in (
        ("lease-duration", defaults.lease_duration),
        ("renew-deadline", defaults.renew_deadline),
        ("retry-period", defaults.retry_period),
    ):
        serve.add_argument(
            f"--leader-elect-{flag}",
            type=_positive,
            default=value,
            metavar="S",
            help=f"leader election {flag.replace('-', ' ')} in seconds (default {value:g})",
        )
    show = sub.add_parser("kubeconfig", help="print the kubeconfig of a running `kubeloop serve`")
    _kubeconfig_option(show)


def _kubeconfig_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=DEFAULT_KUBECONFIG,
        metavar="PATH",
        help=f"the kubeconfig file (default {DEFAULT_KUBECONFIG})",
    )


def main(args: argparse.Namespace) -> int:
    if args.command == "kubeconfig":
        path = args.kubeconfig.expanduser()
        try:
            sys.stdout.write(path.read_text())
        except OSError as error:
            print(
                f"kubeloop: no kubeconfig at {path} ({error.strerror}); is `kubeloop serve` "
                "running?",
                file=sys.stderr,
            )
            return 1
        return 0
    if args.role in COMPONENT_ROLES:
        return _component(args)
    try:
        config, files = _plan(args)
    except (ApiError, OSError, ValueError) as error:
        print(f"kubeloop: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    stop = stopsignals.StopSignals()
    try:
        asyncio.run(_serve(args, config, files, stop))
    except (ApiError, OSError) as error:
        print(f"kubeloop: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    if stop.signal is not None:
        with contextlib.suppress(OSError):
            print(f"kubeloop: stopped by {stop.signal.name}", file=sys.stderr)
    return 0


def _plan(args: argparse.Namespace) -> tuple[ClusterConfig, list[Path]]:
    from engine.manifests import load_manifest_files

    if not 0 <= args.nodes <= MAX_NODES:
        raise ValueError(f"--nodes must be 0 to {MAX_NODES}")
    files: list[Path] = args.files
    for path in files:
        if not path.exists():
            raise ValueError(f"{path}: no such file or directory")
    load_manifest_files(files)  # every file checked before anything starts
    config = ClusterConfig(
        node_pools=(NodePool(count=args.nodes),),
        runtime=args.runtime,
        virtual_time=args.speed is not None,
        data_dir=args.data_dir,
        etcd_servers=tuple(u for u in (args.etcd_servers or "").split(",") if u),
    )
    if args.role == "apiserver":
        config = dataclasses.replace(config, controllers=())
    return config, files


def _component(args: argparse.Namespace) -> int:
    """`--role controllers|scheduler`: run against a server until stopped."""
    try:
        if args.files:
            raise ValueError(f"--role {args.role} applies no files; give them to the apiserver")
        connection = Connection.from_kubeconfig(args.kubeconfig)
        options = ComponentOptions(
            role=args.role,
            identity=default_identity(),
            leader_elect=args.leader_elect,
            timing=LeaseTiming(
                lease_duration=args.leader_elect_lease_duration,
                renew_deadline=args.leader_elect_renew_deadline,
                retry_period=args.leader_elect_retry_period,
            ),
        )
    except ValueError as error:
        print(f"kubeloop: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    stop = stopsignals.StopSignals()

    async def run() -> None:
        with stop.installed(), stop.scope:
            print(
                f"kubeloop: {args.role} against {connection.server} as {options.identity};"
                " Ctrl-C stops",
                file=sys.stderr,
                flush=True,
            )
            await run_component(connection, options)

    try:
        asyncio.run(run())
    except LeadershipLost as lost:
        print(f"kubeloop: {lost}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    if stop.signal is not None:
        with contextlib.suppress(OSError):
            print(f"kubeloop: stopped by {stop.signal.name}", file=sys.stderr)
    return 0


async def _serve(
    args: argparse.Namespace,
    config: ClusterConfig,
    files: list[Path],
    stop: stopsignals.StopSignals,
) -> None:
    options = ServeOptions(address=args.address, port=args.port, tls=not args.insecure_http)
    with stop.installed(), stop.scope:
        async with Cluster(config) as cluster:
            if isinstance(cluster.clock, VirtualClock):
                cluster.clock.pace(args.speed)
            endpoint = await cluster.serve(options)
            if files:
                await cluster.apply(files)
            path = endpoint.write_kubeconfig(args.kubeconfig)
            try:
                _announce(endpoint, path)
                await anyio.sleep_forever()
            finally:
                _remove_if_ours(path, endpoint)


def _announce(endpoint: Endpoint, path: Path) -> None:
    print(
        f"kubeloop: serving the Kubernetes API at {endpoint.url}\n"
        f"kubeloop: kubeconfig written to {path}\n"
        f"  export KUBECONFIG={path}\n"
        "  kubectl get nodes\n"
        "kubeloop: Ctrl-C stops the cluster",
        file=sys.stderr,
        flush=True,
    )
    if endpoint.url.startswith("http://"):
        # client-go's kubeconfig loader sets credentials for TLS servers only,
        # so kubectl reaches a plain-HTTP server unauthenticated and gets 401.
        print(
            "kubeloop: plain HTTP: kubectl sends no token over it (it sends"
            " credentials only over TLS) and is refused; serve with TLS for kubectl",
            file=sys.stderr,
            flush=True,
        )


def _remove_if_ours(path: Path, endpoint: Endpoint) -> None:
    with contextlib.suppress(OSError):
        if path.read_text() == endpoint.kubeconfig_text():
            path.unlink()
