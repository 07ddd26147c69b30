"""The README's embedding example runs exactly as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_embedding_example_runs_as_printed() -> None:
    (example,) = python_blocks()[:1]
    result = subprocess.run(
        [sys.executable, "-c", example],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=README.parent,
    )
    assert result.returncode == 0, result.stderr
    assert 'deployment "nginx-deployment" successfully rolled out' in result.stdout
    assert "10 pods ready after" in result.stdout
