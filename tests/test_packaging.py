"""The install puts one import name in site-packages: the card's folders are subpackages of supplywatch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERIC = ("store", "reports", "crawlers", "classifiers")
BARE = re.compile(rf"^\s*(from|import) ({'|'.join(GENERIC)})\b", re.M)


def test_no_code_imports_a_generic_top_level_name():
    offenders = [str(p.relative_to(ROOT)) for folder in (*GENERIC, "supplywatch", "tests", "benchmarks")
                 for p in (ROOT / folder).rglob("*.py") if BARE.search(p.read_text("utf-8"))]
    assert offenders == []


def test_installed_names_are_namespaced(tmp_path):
    # -I: neither the working directory nor PYTHONPATH, only what the install put on the path.
    code = ("import importlib.util as u, sys; names = sys.argv[1:]; "
            "print(*[u.find_spec(n) is not None for n in names], *[u.find_spec('supplywatch.' + n) is not None for n in names])")
    out = subprocess.run([sys.executable, "-I", "-c", code, *GENERIC], cwd=tmp_path, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False"] * len(GENERIC) + ["True"] * len(GENERIC)
