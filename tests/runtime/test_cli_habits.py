"""The command line's habits: --version, help on every option, `kubeloop bench`
naming its suites and itself, manifests from stdin, and no import of `benchmarks`."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from importlib import metadata

import pytest

from runtime import cli_bench
from runtime.cli import _parser, main
from tests.runtime.test_cli import REPLICASET


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"kubeloop {metadata.version('kubeloop')}"


def _parsers(
    parser: argparse.ArgumentParser,
) -> list[tuple[argparse.ArgumentParser, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.extend(_parsers(sub))
        else:
            found.append((parser, action))
    return found


def test_every_option_of_every_subcommand_has_help_text() -> None:
    actions = _parsers(_parser())
    progs = {parser.prog for parser, _ in actions}
    assert {"kubeloop", "kubeloop run", "kubeloop bench", "kubeloop fuzz"} <= progs
    missing = [
        f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
        for parser, action in actions
        if not (action.help and action.help.strip())
    ]
    assert missing == []


def test_bench_help_lists_the_suites_and_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: kubeloop bench")
    for name, what in cli_bench.SUITES.items():
        assert f"{name:<12} {what}" in out
    for option in ("--quick", "--json PATH", "--repeat N"):
        assert option in out


def test_an_unknown_suite_is_reported_by_kubeloop_bench(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "bogus"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "kubeloop bench: error:" in err and "'bogus'" in err
    assert "python -m benchmarks" not in err


def test_the_suite_names_agree_with_the_benchmarks_registry() -> None:
    from benchmarks.__main__ import SUITES

    assert list(cli_bench.SUITES) == list(SUITES)


def test_bench_runs_python_m_benchmarks_and_passes_its_exit_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = _parser().parse_args(["bench", "scheduler", "--quick", "--json", "f.json"])
    assert cli_bench.bench_argv(args) == [
        sys.executable,
        "-m",
        "benchmarks",
        "scheduler",
        "--quick",
        "--json",
        "f.json",
    ]
    # The real child, asked for its help, lists the same suites and exits 0.
    child = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"], capture_output=True, text=True, timeout=60
    )
    assert child.returncode == 0
    assert all(name in child.stdout for name in cli_bench.SUITES)
    # Whatever status the child ends with is kubeloop's.
    monkeypatch.setattr(
        cli_bench, "bench_argv", lambda _: [sys.executable, "-c", "raise SystemExit(3)"]
    )
    assert main(["bench", "informer"]) == 3


def test_the_command_line_does_not_import_benchmarks() -> None:
    probe = (
        "import sys, runtime.cli; print(any(m.split('.')[0] == 'benchmarks' for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_dash_reads_manifests_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(REPLICASET))
    code = main(["run", "-", "--nodes", "2", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["pods"]["ready"] == 4


def test_bad_manifests_on_stdin_are_one_line_naming_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(REPLICASET.replace("cpu: 100m", "cpu: lots")))
    code = main(["run", "-", "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("kubeloop: error: ") and "<stdin>" in err and "lots" in err
