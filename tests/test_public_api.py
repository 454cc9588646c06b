"""The public API is exactly `jitpim.__all__`, every name resolves, and importing jitpim stays cheap."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import jitpim

OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"  # Key Vault Secrets Officer


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


def test_the_library_example_in_the_package_docstring_works(fresh_emu, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The usage example at the top of `jitpim/__init__.py`, run as written against the emulator."""
    from jitpim.testing import EmulatedClock, github_job_environ

    info = fresh_emu.info
    for name, value in github_job_environ(info, workdir=tmp_path).items():
        monkeypatch.setenv(name, value)
    example = jitpim.__doc__.split("A minimal use, holding access while a function runs:")[1].split("Names are")[0]
    code = "\n".join(line[4:] for line in example.strip("\n").splitlines())
    code = code.replace("Settings.from_environ())", "Settings.from_environ(), clock=EmulatedClock(emu))")
    code = code.replace("...  # the access", "seen.append(held.lease_ids)  #")
    seen: list[list[str]] = []
    exec(
        code,
        {
            "VAULT_ID": info["vaults"]["kv-payments"]["resource_id"],
            "EmulatedClock": EmulatedClock,
            "emu": fresh_emu,
            "seen": seen,
        },
    )
    assert len(seen) == 1 and len(seen[0]) == 1
    assert fresh_emu.info["principals"]["ci-app"]["object_id"] not in _officers(fresh_emu)


def _officers(emu: Any) -> list[str]:
    """Principals holding Key Vault Secrets Officer by a plain role assignment, now."""
    world = emu.runtime.world
    with world.lock:
        return [a.principal_id for a in world.rbac.assignments.values() if a.role_definition_id.endswith(OFFICER)]
