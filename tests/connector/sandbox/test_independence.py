"""The sandbox is the other side of the wire: it keeps its own copy of Zoho's facts."""

from __future__ import annotations

import ast
from pathlib import Path

SANDBOX = Path(__file__).resolve().parents[3] / "connector" / "sandbox"


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def test_the_sandbox_imports_nothing_of_the_client() -> None:
    """No module under connector/sandbox/ imports connector.* outside connector.sandbox."""
    offenders = {
        f"{path.name}: {name}"
        for path in sorted(SANDBOX.glob("*.py"))
        for name in _imports(path)
        if (name == "connector" or name.startswith("connector.")) and not name.startswith("connector.sandbox")
    }
    assert len(list(SANDBOX.glob("*.py"))) >= 9
    assert offenders == set()
