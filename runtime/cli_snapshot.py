"""`kubeloop snapshot save|restore`: copies of a data directory's state, as `etcdctl snapshot`.

    kubeloop snapshot save FILE --data-dir DIR
    kubeloop snapshot restore FILE --data-dir DIR

`save` writes a consistent copy of the state database of `DIR` (a cluster's
`data_dir`, see `engine.durable`) to FILE, also while a cluster is running
on it. `restore` makes a new data directory from a snapshot; like
`etcdctl snapshot restore`, it refuses a directory that already holds state.
Exit status: 0 done, 2 bad input (one line on stderr).

Neighbours: `runtime.cli` (registers this), `engine.durable`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["COMMANDS", "main", "register"]

COMMANDS = ("snapshot",)


def register(sub: Any) -> None:
    """Add `snapshot save|restore` to `kubeloop`'s subparsers."""
    snapshot = sub.add_parser("snapshot", help="save or restore a data directory's state")
    actions = snapshot.add_subparsers(dest="action", required=True)
    for name, help_text in (
        ("save", "write a consistent copy of DIR's state to FILE"),
        ("restore", "make the new data directory DIR from the snapshot FILE"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("file", type=Path, help="the snapshot file")
        action.add_argument(
            "--data-dir", type=Path, required=True, help="the cluster's data directory"
        )


def main(args: argparse.Namespace) -> int:
    from engine.durable import DATABASE_NAME, DurableStateError, SqliteJournal, restore_snapshot

    database = args.data_dir / DATABASE_NAME
    try:
        if args.action == "save":
            if not database.is_file():
                raise DurableStateError(f"{args.data_dir}: no kubeloop state here ({database})")
            journal = SqliteJournal(database)
            try:
                revision, count = journal.revision, len(journal)
                journal.snapshot(args.file)
            finally:
                journal.close()
            print(f"saved revision {revision} ({count} objects) to {args.file}")
            return 0
        if database.exists():
            raise DurableStateError(
                f"{args.data_dir} already holds state; restore into a new data directory"
            )
        revision = restore_snapshot(args.file, args.data_dir)
        print(f"restored revision {revision} from {args.file} into {args.data_dir}")
        return 0
    except (DurableStateError, OSError) as error:
        print(f"kubeloop: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
