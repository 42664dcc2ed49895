"""docs/security.md names the test that proves each control: every name must be a real test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
# `path/under/tests/test_file.py::test_name`, or `::test_name` meaning the file named last before it.
REFERENCE = re.compile(r"`(?:((?:\w+/)*test_\w+\.py))?::(test_\w+)")


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_test_named_in_the_security_doc_exists():
    document = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    current_file, named, missing = None, 0, []
    for file_name, test_name in REFERENCE.findall(document):
        current_file = file_name or current_file
        assert current_file, f"::{test_name} follows no file name"
        named += 1
        path = TESTS / current_file
        if not path.is_file() or test_name not in defined_tests(path):
            missing.append(f"tests/{current_file}::{test_name}")

    assert named > 50
    assert missing == []


def test_every_test_file_the_security_doc_names_exists():
    document = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w/])(?:tests/)?((?:\w+/)*test_\w+\.py)", document))

    assert named
    assert sorted(name for name in named if not (TESTS / name).is_file()) == []
