"""`jitpim --help` and `import jitpim` stay cheap: nothing a command does not need is imported at start-up
(the version is a literal, not read through importlib.metadata; logging and the optional extras wait)."""

from __future__ import annotations

import subprocess
import sys

_HELP = (
    "import sys\n"
    "from jitpim.cli import main\n"
    "try:\n"
    "    main(['--help'])\n"
    "except SystemExit:\n"
    "    pass\n"
    "print(','.join(sorted(sys.modules)), file=sys.stderr)\n"
)


def test_help_imports_only_what_it_needs() -> None:
    done = subprocess.run([sys.executable, "-c", _HELP], capture_output=True, text=True, timeout=60, check=True)
    assert "Usage: jitpim" in done.stdout
    loaded = set(done.stderr.strip().split(","))
    unwanted = {"importlib.metadata", "logging", "psycopg", "azure", "cryptography", "sqlite3", "yaml"}
    assert not loaded & unwanted, sorted(loaded & unwanted)


def test_version_without_importlib_metadata() -> None:
    code = "import sys, jitpim; print(jitpim.__version__, 'importlib.metadata' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    from jitpim._version import __version__

    assert done.stdout.split() == [__version__, "False"]


def test_the_version_literal_matches_pyproject() -> None:
    import tomllib
    from pathlib import Path

    from jitpim._version import __version__

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == __version__
