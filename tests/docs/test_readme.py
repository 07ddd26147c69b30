"""Every code block of the README is executed or checked, as printed.

* ```python blocks run as they are (from the repository root), except
  excerpts: a block right after `<!-- excerpt: PATH -->` must be PATH's text,
  piece by piece (a line `...` elides), in order.
* ```yaml blocks: a scenario runs through `kubeloop run` (with the
  `workloads.yaml` it names), a simulation scenario file through
  `kubeloop replay`, which must reproduce its recorded failure.
* ```sh blocks: `make` targets exist; `kubeloop` commands run.
* ```text blocks: a `kubeloop` synopsis names exactly the options the real
  parser has.

The examples the README describes are run to check they do what it says.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from runtime.cli import _parser, main

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LANGUAGES = ("python", "yaml", "sh", "text")
ELISION = re.compile(r"^\s*\.\.\.(\s+#.*)?$")


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    line: int  # of the opening fence
    excerpt_of: str | None

    @property
    def id(self) -> str:
        return f"{self.language}@{self.line}"


def readme_blocks() -> list[Block]:
    blocks = []
    lines = README.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\S*)$", lines[i])
        if fence is None:
            i += 1
            continue
        start = i
        i += 1
        body = []
        while lines[i] != "```":
            body.append(lines[i])
            i += 1
        marker = re.match(r"^<!-- excerpt: (\S+) -->$", lines[start - 1]) if start else None
        blocks.append(
            Block(
                fence.group(1),
                "\n".join(body) + "\n",
                start + 1,
                marker.group(1) if marker else None,
            )
        )
        i += 1
    return blocks


BLOCKS = readme_blocks()


def of(language: str, *, excerpts: bool | None = None) -> list[Block]:
    return [
        b
        for b in BLOCKS
        if b.language == language and (excerpts is None or (b.excerpt_of is not None) == excerpts)
    ]


def ids(block: Block) -> str:
    return block.id


def test_every_block_says_its_language() -> None:
    assert [b.id for b in BLOCKS if b.language not in LANGUAGES] == []
    assert len(of("python", excerpts=False)) >= 3 and len(of("python", excerpts=True)) >= 3


# -- python ---------------------------------------------------------------------------

EXPECTED_OUTPUT = {
    "from engine.api import Deployment": [
        'deployment "nginx-deployment" successfully rolled out',
        "10 pods ready after",
    ],
    "SyncCluster(": ['deployment "nginx-deployment" successfully rolled out', "pods,"],
    "Simulation(": ["desired state reached"],
    "request_rate=": ["replicas: 10", "250"],
}


@pytest.mark.parametrize("block", of("python", excerpts=False), ids=ids)
def test_python_block_runs_as_printed(block: Block) -> None:
    result = subprocess.run(
        [sys.executable, "-c", block.text],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    for marker, lines in EXPECTED_OUTPUT.items():
        if marker in block.text:
            for line in lines:
                assert line in result.stdout


def excerpt_mismatch(excerpt: str, source: str) -> str | None:
    """The first piece of `excerpt` (pieces split at `...` lines) that is not in
    `source` after the previous one, or None."""
    pieces: list[list[str]] = [[]]
    for line in excerpt.splitlines():
        if ELISION.match(line):
            pieces.append([])
        else:
            pieces[-1].append(line)
    position = 0
    for piece in pieces:
        text = "\n".join(piece).strip("\n")
        if not text:
            continue
        found = source.find(text, position)
        if found < 0:
            return text
        position = found + len(text)
    return None


@pytest.mark.parametrize("block", of("python", excerpts=True), ids=ids)
def test_python_excerpt_is_the_files_text(block: Block) -> None:
    assert block.excerpt_of is not None
    source = (ROOT / block.excerpt_of).read_text()
    assert excerpt_mismatch(block.text, source) is None


def test_an_excerpt_that_differs_is_caught() -> None:
    source = "def f() -> int:\n    x = 1\n    return x\n\n\ndef g() -> None:\n    pass\n"
    assert excerpt_mismatch("def f() -> int:\n    ...\n    return x\n", source) is None
    assert excerpt_mismatch("def g() -> None:\n    ...\ndef f() -> int:\n", source) is not None
    assert excerpt_mismatch("def f() -> int:\n    x = 2\n", source) == "def f() -> int:\n    x = 2"


# -- yaml -----------------------------------------------------------------------------


def test_every_yaml_block_is_a_scenario_or_a_simulation_scenario() -> None:
    for block in of("yaml"):
        data = yaml.safe_load(block.text)
        assert "steps" in data, block.id


@pytest.mark.parametrize("block", [b for b in of("yaml") if "kubeloop:" not in b.text], ids=ids)
def test_scenario_runs_through_kubeloop_run(
    block: Block, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for step in yaml.safe_load(block.text)["steps"]:
        if isinstance(step.get("apply"), str) and "\n" not in step["apply"]:
            shutil.copy(ROOT / "examples" / "rollout" / step["apply"], tmp_path)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(block.text)
    code = main(["run", str(scenario), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert [s["result"] for s in summary["steps"]] == ["ok"] * len(summary["steps"])
    assert code == 0 and summary["converged"] is True


@pytest.mark.parametrize("block", [b for b in of("yaml") if "kubeloop:" in b.text], ids=ids)
def test_simulation_scenario_replays_its_failure(block: Block, tmp_path: Path) -> None:
    path = tmp_path / "failure.yaml"
    path.write_text(block.text)
    recorded = yaml.safe_load(block.text)["failure"]

    def replay(*extra: str) -> tuple[int, dict[str, object]]:
        result = subprocess.run(
            [sys.executable, "-m", "runtime.cli", "replay", str(path), "--json", *extra],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        return result.returncode, json.loads(result.stdout)

    code, report = replay()
    assert code == 1, report
    assert recorded["oracle"] in json.dumps(report) and recorded["message"] in json.dumps(report)
    code, report = replay("--target", "examples.fuzz_website:WEBSITE")  # the fixed controller
    assert code == 0, report


# -- sh -------------------------------------------------------------------------------


def _commands(block: Block) -> list[list[str]]:
    text = block.text.replace("\\\n", " ")  # a line continued with a backslash
    return [shlex.split(line, comments=True) for line in text.splitlines() if line.strip()]


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][\w-]*):", text, flags=re.M))


@pytest.mark.parametrize("block", of("sh"), ids=ids)
def test_shell_commands_work(block: Block) -> None:
    for argv in _commands(block):
        if argv[0] == "make":
            assert set(argv[1:]) <= _make_targets(), argv
        elif argv[0] == "kubeloop":
            result = subprocess.run(
                [sys.executable, "-m", "runtime.cli", *argv[1:]],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=ROOT,
            )
            assert result.returncode == 0, result.stdout + result.stderr
        elif argv[:3] == ["python", "-m", "benchmarks"]:
            # A benchmark as printed, at its --quick size.
            result = subprocess.run(
                [sys.executable, *argv[1:], "--quick"],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=ROOT,
            )
            assert result.returncode == 0, result.stdout + result.stderr
        else:
            pytest.fail(f"no check for the command {argv[0]!r} at README line {block.line}")


# -- text: synopses -------------------------------------------------------------------


def _synopses() -> dict[str, set[str]]:
    """`kubeloop [COMMAND]` -> the options its synopsis lines in the README name."""
    found: dict[str, set[str]] = {}
    current: str | None = None
    for block in of("text"):
        for line in block.text.splitlines():
            if line.startswith("kubeloop "):
                words = line.split()
                current = words[1] if not words[1].startswith("-") else ""
                found.setdefault(current, set())
            elif not line.startswith(" "):
                current = None
            if current is not None:
                found[current] |= set(re.findall(r"(?<![\w-])--?[a-z][\w-]*", line))
    return found


def _parser_options() -> dict[str, set[str]]:
    import argparse

    def every_option(parser: argparse.ArgumentParser) -> set[str]:
        # A command's own options and those of its actions (`snapshot save`).
        found = {o for a in parser._actions for o in a.option_strings}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    found |= every_option(sub)
        return found

    parser = _parser()
    options = {"": {o for a in parser._actions for o in a.option_strings}}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                options[name] = every_option(sub)
    return {name: opts - {"-h", "--help"} for name, opts in options.items()}


def test_synopses_name_exactly_the_parsers_options() -> None:
    synopses = _synopses()
    real = _parser_options()
    assert set(synopses) == set(real)
    for command, options in synopses.items():
        assert options == real[command], command


# -- examples the README describes ------------------------------------------------------


def test_paths_the_readme_names_exist() -> None:
    text = README.read_text()
    paths = set(re.findall(r"`((?:examples|tests|runtime|engine|benchmarks)/[\w./-]*)`", text))
    assert paths and [p for p in sorted(paths) if not (ROOT / p).exists()] == []


def test_the_bundled_scenario_heals_a_crashed_node_in_six_minutes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["run", str(ROOT / "examples" / "rollout" / "scenario.yaml"), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["converged"] and summary["nodes"] == 100
    steps = [s["step"].split()[0] for s in summary["steps"]]
    assert {"set_image", "crash_node", "restore_node"} <= set(steps)
    assert all(s["result"] == "ok" for s in summary["steps"])
    assert 300 <= summary["virtual_seconds"] <= 420  # "six minutes of cluster time"


def test_the_demo_reloads_config() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "update" in line]
    # The ConfigMap's edit is followed by the Deployment's template update.
    assert any("ConfigMap" in r for r in rows) and "Deployment" in rows[-1]
