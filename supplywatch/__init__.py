"""supplywatch: CLI, configuration and the composition root over crawlers, classifiers, reports and store."""

__version__ = "0.1.0"

from pathlib import Path as _Path

# Installed, setuptools maps the layers under this package ([tool.setuptools.package-dir]); in a source checkout
# (a clone, a git worktree) they sit beside this folder. Look there too, so a checkout imports its own layers and
# never those of whichever checkout the editable install points at.
_root = _Path(__file__).resolve().parent.parent
if (_root / "pyproject.toml").is_file() and (_root / "store" / "schema.py").is_file():
    __path__.append(str(_root))  # noqa: F821 (__path__ is set on a package module)
del _Path, _root
