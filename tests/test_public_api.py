"""The public API is exactly `jitpim.__all__`, every name resolves, and importing jitpim stays cheap."""

from __future__ import annotations

import subprocess
import sys

import jitpim


def test_every_public_name_resolves() -> None:
    for name in jitpim.__all__:
        assert getattr(jitpim, name) is not None, name


def test_all_is_sorted_and_unique() -> None:
    assert list(jitpim.__all__) == sorted(set(jitpim.__all__))


def test_import_and_cli_help_load_no_azure_sdk() -> None:
    code = (
        "import sys, jitpim, jitpim.cli; "
        "heavy = [m for m in sys.modules if m.startswith(('azure', 'msal', 'starlette', 'uvicorn', 'requests'))]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
