"""A table of bad inputs, as a new user (or an attacker) types them: each is a clear error with a documented
exit code, never a traceback; under `--output json` stdout holds exactly one JSON document; nothing echoed
can start a line of its own in a CI log; and nothing is granted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jitpim.cli import cli
from jitpim.emulator import Emulator
from jitpim.errors import exit_codes
from jitpim.testing import github_job_environ

DOCUMENTED = {code for code, _, _ in exit_codes()}
OFFICER = "Key Vault Secrets Officer"

# (what is changed, expected exit code). `{vault}` is the emulator's vault id.
BAD: list[tuple[list[str], int]] = [
    (["--duration", "99999999999999999999h"], 64),
    (["--duration", "P99999999999W"], 64),
    (["--duration", "400d"], 64),
    (["--duration", "-1h"], 64),
    (["--duration", "nan"], 64),
    (["--duration", "1" * 5000 + "m"], 64),
    (["--duration", "P1Y"], 64),
    (["--start", "9999-12-31T23:59:59Z"], 64),
    (["--start", "2026-13-45T00:00:00Z"], 64),
    (["--start", "2026-05-01T08:00:00"], 64),
    (["--ticket", "CHG 42"], 64),
    (["--ticket", "CHG:42\n::warning::forged"], 64),
    (["--justification", "deploy\n::add-mask::x"], 64),
    (["--tenant", "not a tenant"], 64),
    (["--approval-timeout", "99999999999999999999h"], 64),
    (["--effective-timeout", "0s"], 64),
    (["--role", "Key Vault\x1b[2J Officer"], 64),
    (["--scope", "{vault}\n::error::forged"], 64),
    (["--scope", "/subscriptions/not-a-guid"], 64),
    (["--kind", "sudo"], 64),
    (["--early-release", "later"], 64),
    (["--cloud", "mars"], 71),
    (["--ledger", "/dev/null/ledger.sqlite3"], 79),
    (["--emulator-url", "https://127.0.0.1:1"], 72),
]


@pytest.fixture(name="env")
def _env(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    env = github_job_environ(emu.info, workdir=tmp_path / "job")
    env["JITPIM_LEDGER"] = str(tmp_path / "ledger.sqlite3")
    return env


def _args(command: str, vault: str, change: list[str]) -> list[str]:
    flags = {"--kind": "rbac", "--role": OFFICER, "--scope": vault, "--justification": "bad input table"}
    extra: list[str] = []
    for name, value in zip(change[::2], change[1::2], strict=True):
        value = value.replace("{vault}", vault)
        if name in flags:
            flags[name] = value
        else:
            extra += [name, value]
    args = [command, "-q", *[part for pair in flags.items() for part in pair], *extra]
    return args + (["--", "true"] if command == "exec" else [])


def _check(result: Any, expected: int, as_json: bool) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == expected and expected in DOCUMENTED, (result.exit_code, result.output)
    # Nothing echoed starts a line of its own that a runner would read as a workflow command.
    assert not [line for line in result.output.splitlines() if line.lstrip().startswith("::")], result.output
    assert "\x1b" not in result.output
    if as_json:
        document = json.loads(result.stdout)
        assert document["exit_code"] == expected and document["message"] and document["hint"]
    else:
        assert result.stderr.startswith("error: ") and "\nhint: " in result.stderr


@pytest.mark.parametrize(("change", "expected"), BAD, ids=[" ".join(c)[:40] for c, _ in BAD])
@pytest.mark.parametrize("command", ["plan", "exec"])
def test_a_bad_input_is_a_documented_error(
    emu: Emulator, env: dict[str, str], command: str, change: list[str], expected: int
) -> None:
    vault = emu.info["vaults"]["kv-payments"]["resource_id"]
    if command == "plan" and change[0] in ("--early-release", "--effective-timeout", "--approval-timeout"):
        pytest.skip("plan has no lifecycle options")
    if command == "plan" and change[0] == "--ledger":
        pytest.skip("plan never opens the ledger")
    for as_json in (False, True):
        args = _args(command, vault, change) if not as_json else [*_args(command, vault, change)]
        if as_json:
            at = args.index("--") if "--" in args else len(args)
            args[at:at] = ["--output", "json"]
        result = CliRunner().invoke(cli, args, env=env, catch_exceptions=True)
        _check(result, expected, as_json)
