"""Structured logging for kubeloop, on structlog over the standard library.

Log lines carry structured fields (controller, kind, namespace, name,
resourceVersion, ...). Embedded, kubeloop is quiet: its loggers live under the
standard-library logger "kubeloop", which passes only warnings and errors on to
the host application's handlers. `configure_logging(level, fmt)` attaches a
handler of kubeloop's own that renders lines for a console ("console") or as
JSON ("json"); the CLI and examples call it.

Neighbours: used by every module that logs.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal, TextIO

import structlog

__all__ = ["configure_logging", "get_logger"]

ROOT = "kubeloop"
_root = logging.getLogger(ROOT)
_root.setLevel(logging.WARNING)
_renderer: list[Any] = [structlog.dev.ConsoleRenderer(colors=False)]


def _render(logger: Any, method: str, event: dict[str, Any]) -> str:
    return str(_renderer[0](logger, method, event))


_PROCESSORS: list[Any] = [
    structlog.stdlib.filter_by_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.format_exc_info,
    _render,
]


def get_logger(component: str, **fields: Any) -> Any:
    """A structlog logger named `kubeloop.<component>`, bound to `fields`."""
    logger = structlog.wrap_logger(
        logging.getLogger(f"{ROOT}.{component}"),
        processors=_PROCESSORS,
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    return logger.bind(**fields) if fields else logger


def configure_logging(
    level: str | int = "info",
    fmt: Literal["console", "json"] = "console",
    stream: TextIO | None = None,
) -> None:
    """Send kubeloop's log lines at `level` and above to `stream` (stderr)."""
    _renderer[0] = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    numeric = level if isinstance(level, int) else logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    for handler in list(_root.handlers):
        if getattr(handler, "_kubeloop", False):
            _root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._kubeloop = True  # type: ignore[attr-defined]
    _root.addHandler(handler)
    _root.setLevel(numeric)
    _root.propagate = False
