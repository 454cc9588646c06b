"""The access file is read strictly: every bad file is a ConfigError (exit 71) naming the file, the line and
the fix, never a traceback, a silently ignored key, or a duplicated key that quietly wins."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from jitpim.cli import cli
from jitpim.errors import ConfigError
from jitpim.lifecycle import load_access_file
from jitpim.model import TargetKind
from jitpim.safe_text import control_characters

SCOPE = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-payments"
GOOD = f"""\
version: 1
defaults:
  duration: 15m
  justification: CI deploy
profiles:
  deploy:
    description: Deploy the payments app
    mode: direct
    ticket: CHG:1234
    targets:
      - kind: rbac
        role: Contributor
        scope: {SCOPE}
      - kind: entra-role
        role: Application Administrator
        scope: /
        duration: 10m
"""


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "jitpim.yaml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def _refused(tmp_path: Path, text: str | bytes) -> ConfigError:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_access_file(path)
    error = info.value
    assert str(path) in error.message
    assert error.hint
    assert error.exit_code == 71
    return error


def test_a_good_file_reads_with_defaults_profile_and_target_precedence(tmp_path: Path) -> None:
    access = load_access_file(_write(tmp_path, GOOD))
    deploy = access.profile("deploy")
    assert deploy.mode == "direct"
    assert deploy.description == "Deploy the payments app"
    rbac, entra = deploy.targets
    assert rbac.kind is TargetKind.RBAC and rbac.duration is not None and rbac.duration.total_seconds() == 900
    assert entra.duration is not None and entra.duration.total_seconds() == 600
    assert rbac.justification == "CI deploy" and str(rbac.ticket) == "CHG:1234"


def test_mode_in_defaults_applies_to_profiles_without_their_own(tmp_path: Path) -> None:
    text = GOOD.replace("  justification: CI deploy\n", "  justification: CI deploy\n  mode: self\n")
    text = text.replace("    mode: direct\n", "")
    assert load_access_file(_write(tmp_path, text)).profile("deploy").mode == "self"


@pytest.mark.parametrize(
    ("text", "line", "needle", "hint"),
    [
        # the three tracebacks the issue names
        (GOOD.replace("mode: direct", "mode: sudo"), 8, "unknown mode 'sudo'", "direct, self"),
        (GOOD.replace("role: Contributor", "role: 42"), 12, "role must be text, not a number (42)", 'role: "42"'),
        # unknown keys at every level, with a did-you-mean
        (GOOD.replace("version: 1\n", "version: 1\nprofile:\n  x: 1\n"), 2, "unknown key 'profile'", "'profiles'"),
        (GOOD.replace("  duration: 15m\n", "  duraton: 15m\n"), 3, "defaults: unknown key 'duraton'", "'duration'"),
        (GOOD.replace("    ticket: CHG:1234\n", "    tickets: CHG:1234\n"), 9, "unknown key 'tickets'", "'ticket'"),
        (GOOD.replace("        role: Contributor\n", "        rol: Contributor\n"), 12, "unknown key 'rol'", "'role'"),
        # keys in the wrong place say where they belong
        (GOOD.replace("  duration: 15m\n", "  scope: /\n"), 3, "does not belong here", "each target"),
        (GOOD.replace("version: 1\n", "version: 1\ntargets: []\n"), 2, "does not belong here", "under a profile"),
        (
            GOOD.replace("        role: Contributor\n", "        role: Contributor\n        mode: self\n"),
            13,
            "mode",
            "profile",
        ),
        # duplicate keys: the second `role:` must not silently win (it turned a Reader into an Owner)
        (
            GOOD.replace("role: Contributor\n", "role: Contributor\n        role: Owner\n"),
            13,
            "duplicate key 'role'",
            "Keep one",
        ),
        (
            GOOD.replace("  deploy:\n", "  deploy:\n    duration: 5m\n    duration: 6m\n"),
            8,
            "first at line 7",
            "Keep one",
        ),
        (GOOD + "  deploy:\n    targets: []\n", 18, "duplicate key 'deploy'", "Keep one"),
        (GOOD + "version: 1\n", 18, "duplicate key 'version'", "Keep one"),
        # wrong types and shapes
        (GOOD.replace("version: 1", "version: '1'"), 1, "unsupported access-file version '1'", "version: 1"),
        (GOOD.replace("version: 1", "version: true"), 1, "unsupported access-file version True", "version: 1"),
        (GOOD.replace("  duration: 15m", "  duration: [15m]"), 3, "duration must be text", "15m"),
        (GOOD.replace("  duration: 15m", "  duration: 15"), 3, "cannot read duration '15'", "15m or 15h"),
        (GOOD.replace("scope: /\n", "scope: /\n        start: 2026-05-01\n"), 17, "start must be a time", "08:00"),
        (
            GOOD.replace("    description: Deploy the payments app", "    description: [a, b]"),
            7,
            "description must be text",
            "Quote",
        ),
        (GOOD.replace("kind: rbac", "kind: sudo"), 11, "unknown target kind 'sudo'", "rbac"),
        (GOOD.replace("  deploy:\n", "  42:\n"), 6, "profile name 42 is not text", "rotate-kv"),
        (GOOD.replace("      - kind: rbac\n", "      - rbac\n      - kind: rbac\n"), 10, "must be a mapping", "format"),
        (GOOD.replace("ticket: CHG:1234", "ticket: CHG 1234"), 9, "cannot read ticket", "SYSTEM:NUMBER"),
        (GOOD.replace("duration: 10m", "duration: 99999999999999999999h"), 17, "far too long", "3650d"),
        (GOOD.replace("duration: 10m", "duration: 400d"), 17, "longer than jitpim grants", "30m"),
        ("version: 1\n", 1, "no profiles", "Add one profile"),
        ("- a\n- b\n", 1, "must be a mapping", "format"),
        (
            GOOD.replace("justification: CI deploy", 'justification: "CI\\n::warning::x"'),
            4,
            "control characters (\\n)",
            "one line",
        ),
        (GOOD.replace("scope: /\n", 'scope: "/\\e[2J"\n'), 16, "control characters (\\x1b)", "one line"),
    ],
)
def test_a_bad_file_names_its_line_problem_and_fix(
    tmp_path: Path, text: str, line: int, needle: str, hint: str
) -> None:
    error = _refused(tmp_path, text)
    assert f"jitpim.yaml:{line}:" in error.message, error.message
    assert needle in error.message, error.message
    assert hint in error.hint, error.hint


def test_non_utf8_bytes_name_the_byte_and_line(tmp_path: Path) -> None:
    error = _refused(tmp_path, GOOD.encode().replace(b"CI deploy", b"CI d\xe9ploy"))
    assert "jitpim.yaml:4: byte 0xe9 is not UTF-8" in error.message
    assert "UTF-8" in error.hint


def test_a_utf8_bom_and_non_ascii_text_are_fine(tmp_path: Path) -> None:
    text = "\ufeff" + GOOD.replace("CI deploy", "Déploiement")
    assert load_access_file(_write(tmp_path, text)).profile("deploy").targets[0].justification == "Déploiement"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("profiles: [\n", "is not valid YAML at line 2"),
        ("a: b\x00\n", "character '\\x00' is not allowed"),
        ("a: !!python/object:os.system echo\n", "is not valid YAML at line 1"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        ("a: &x [*x]\n", "is not valid YAML"),
    ],
)
def test_broken_yaml_is_one_clear_error(tmp_path: Path, text: str, needle: str) -> None:
    assert needle in _refused(tmp_path, text).message


def test_a_missing_file_a_directory_and_a_huge_file_are_refused(tmp_path: Path) -> None:
    for path, needle in ((tmp_path / "nope.yaml", "does not exist"), (tmp_path, "is a directory")):
        with pytest.raises(ConfigError, match=needle):
            load_access_file(path)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (1024 * 1024) + b"\n")
    with pytest.raises(ConfigError, match="more than an access file holds"):
        load_access_file(big)


def test_a_mistyped_profile_name_suggests_the_close_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_access_file(_write(tmp_path, GOOD)).profile("deplyo")
    assert "Did you mean deploy?" in info.value.hint


# -- the CLI: exit 71, and valid JSON on stdout under --output json ------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        GOOD.encode().replace(b"CI deploy", b"\xff\xfe"),
        GOOD.replace("mode: direct", "mode: sudo").encode(),
        GOOD.replace("role: Contributor", "role: 42").encode(),
        GOOD.replace("role: Contributor\n", "role: Contributor\n        role: Owner\n").encode(),
    ],
)
def test_the_cli_reports_a_bad_file_as_json_with_exit_71(tmp_path: Path, content: bytes) -> None:
    path = _write(tmp_path, content)
    result = CliRunner().invoke(
        cli, ["plan", "--profile", "deploy", "--access-file", str(path), "-o", "json"], catch_exceptions=False
    )
    assert result.exit_code == 71, result.output
    document = json.loads(result.stdout)
    assert document["error"] == "ConfigError" and document["exit_code"] == 71
    assert "jitpim.yaml:" in document["message"] and document["hint"]


# -- fuzzing: whatever the bytes, a clean ConfigError or a valid file --------------------------------------

_ODD_VALUES = [
    "42",
    "-1",
    "1.5e300",
    ".nan",
    "true",
    "no",
    "~",
    "''",
    "2026-05-01",
    "2026-05-01T08:00:00",
    "[]",
    "{}",
    "[a, [b, [c]]]",
    "{a: {b: c}}",
    "!!binary aGVsbG8=",
    "&a x",
    "*a",
    "|\n  two\n  lines",
    '"\\u202e"',
    '"\\x1b[31m"',
    '"a\\nb"',
    "x" * 2000,
    "PT99999999999999999999H",
    "P1Y",
    "0m",
    "'::warning::x'",
]


def _mutate(rng: random.Random, text: str) -> bytes:
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        i = rng.randrange(len(lines))
        if choice < 0.4 and ":" in lines[i]:
            key, _, _ = lines[i].partition(":")
            lines[i] = f"{key}: {rng.choice(_ODD_VALUES)}\n"
        elif choice < 0.55:
            lines.insert(i, lines[rng.randrange(len(lines))])  # a duplicated line (often a duplicate key)
        elif choice < 0.7:
            del lines[i]
        elif choice < 0.85:
            indent = " " * rng.choice([0, 2, 4, 6, 8])
            key = rng.choice(["kind", "rol", "x", "role", "defaults", "- kind"])
            lines.insert(i, f"{indent}{key}: {rng.choice(_ODD_VALUES)}\n")
        else:
            data = bytearray("".join(lines).encode())
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            return bytes(data)
    return "".join(lines).encode()


def test_fuzzed_access_files_load_or_fail_with_a_config_error(tmp_path: Path) -> None:
    rng = random.Random(20261203)
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(600):
        content = _mutate(rng, GOOD)
        path = _write(tmp_path, content)
        try:
            load_access_file(path)
        except ConfigError as error:
            outcomes["refused"] += 1
            assert not control_characters(str(error) + error.hint), (content, str(error))
            assert "\n" not in str(error) and "\x1b" not in str(error), (content, str(error))
            assert error.hint
        else:
            outcomes["loaded"] += 1
    assert outcomes["refused"] > 300 and outcomes["loaded"] > 10, outcomes


def test_no_fuzzed_duplicate_ever_changes_a_value_silently(tmp_path: Path) -> None:
    """Whenever a file loads, PyYAML's own (lenient) reading of it agrees on every role and scope."""
    rng = random.Random(7)
    for _ in range(300):
        content = _mutate(rng, GOOD)
        path = _write(tmp_path, content)
        try:
            access = load_access_file(path)
        except ConfigError:
            continue
        lenient = yaml.safe_load(content.decode("utf-8-sig"))
        for name, profile in access.profiles.items():
            roles = [t.get("role") for t in lenient["profiles"][name]["targets"]]
            assert [t.role for t in profile.targets] == [str(r).strip() for r in roles]


def test_yaml_merge_keys_work_and_explicit_keys_override_them(tmp_path: Path) -> None:
    text = f"""\
version: 1
profiles:
  base: &base
    justification: shared
    targets:
      - &officer {{kind: rbac, role: Reader, scope: "{SCOPE}"}}
  derived:
    <<: *base
    justification: own
    targets:
      - <<: *officer
        role: Contributor
"""
    access = load_access_file(_write(tmp_path, text))
    assert access.profile("derived").targets[0].role == "Contributor"
    assert access.profile("derived").targets[0].justification == "own"
    assert access.profile("base").targets[0].role == "Reader"


def test_the_documented_example_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[2] / "docs/reference/access-file.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0].replace("<sub>", "00000000-0000-0000-0000-000000000001")
    access = load_access_file(_write(tmp_path, example))
    assert set(access.profiles) == {"rotate-kv", "break-glass"}
    lines = example.splitlines()
    at = next(i for i, line in enumerate(lines) if "role: Key Vault Secrets Officer" in line)
    lines.insert(at + 1, lines[at])
    error = _refused(tmp_path, "\n".join(lines) + "\n")
    shown = f"jitpim.yaml:{at + 2}: duplicate key 'role' (first at line {at + 1})"
    assert shown in error.message and f"error: {shown}" in doc


def test_the_audit_sinks_section_is_allowed_and_checked(tmp_path: Path) -> None:
    """`audit.sinks` lives in the access file (docs/reference/audit.md); other keys under `audit:` are not."""
    from jitpim.audit.sinks.config import load_sinks_config

    sinks = "audit:\n  sinks:\n    - name: siem\n      type: syslog\n      host: syslog.example.net\n"
    path = _write(tmp_path, GOOD + sinks)
    assert set(load_access_file(path).profiles) == {"deploy"}
    assert load_sinks_config(access_file=path, environ={}).names() == ["siem"]
    error = _refused(tmp_path, GOOD + sinks.replace("  sinks:", "  sink:"))
    assert "jitpim.yaml:19: audit: unknown key 'sink'" in error.message and "'sinks'" in error.hint
