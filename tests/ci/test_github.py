"""GitHub Actions integration: the files and workflow commands the runner reads, byte for byte."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from jitpim.ci import STEP_SUMMARY_LIMIT_BYTES, GitHubActions, escape_data, escape_property
from jitpim.errors import ConfigError, UsageError


def _actions(tmp_path: Path, **extra: str) -> tuple[GitHubActions, io.StringIO, io.StringIO, Path, Path]:
    output = tmp_path / "github_output"
    summary = tmp_path / "step_summary"
    output.touch()
    summary.touch()
    environ = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        **extra,
    }
    stdout, stderr = io.StringIO(), io.StringIO()
    return GitHubActions(environ, stdout, stderr), stdout, stderr, output, summary


def _parse_outputs(text: str) -> dict[str, str]:
    """Read a GITHUB_OUTPUT file the way the runner does (`name=value` or `name<<DELIM` ... `DELIM`).

    The runner reads lines (any of CRLF, CR, LF ends one) and joins a heredoc's lines with LF."""
    outputs: dict[str, str] = {}
    lines = re.split(r"\r\n|\r|\n", text)
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            outputs[line[:equals]] = line[equals + 1 :]
            continue
        name, delimiter = line[:heredoc], line[heredoc + 2 :]
        value: list[str] = []
        while lines[index] != delimiter:
            value.append(lines[index])
            index += 1
        index += 1
        outputs[name] = "\n".join(value)
    return outputs


def test_single_line_output(tmp_path: Path) -> None:
    gha, stdout, _, output, _ = _actions(tmp_path)
    assert gha.set_output("lease-id", "run-1/rbac/reader") is True
    assert gha.set_output("empty", "") is True
    assert output.read_text() == "lease-id=run-1/rbac/reader\nempty=\n"
    assert stdout.getvalue() == ""


def test_multi_line_output_uses_a_random_heredoc_delimiter(tmp_path: Path) -> None:
    gha, _, _, output, _ = _actions(tmp_path)
    value = "line one\nline two: with = and <<EOF\n"
    gha.set_output("report", value)
    gha.set_output("report2", "a\r\nb")
    text = output.read_bytes().decode("utf-8")
    delimiters = re.findall(r"^report2?<<(ghadelimiter_[0-9a-f]{32})$", text, flags=re.MULTILINE)
    assert len(delimiters) == 2
    assert delimiters[0] != delimiters[1]
    assert text.startswith(f"report<<{delimiters[0]}\nline one\nline two: with = and <<EOF\n\n{delimiters[0]}\n")
    assert f"report2<<{delimiters[1]}\na\r\nb\n{delimiters[1]}\n" in text  # the value is written verbatim
    assert _parse_outputs(text) == {"report": value, "report2": "a\nb"}


def test_output_names_are_checked(tmp_path: Path) -> None:
    gha, _, _, output, _ = _actions(tmp_path)
    for bad in ("", "has space", "a=b", "x<<y", "new\nline", "ünïcode"):
        with pytest.raises(UsageError):
            gha.set_output(bad, "v")
    assert output.read_text() == ""


def test_missing_output_file_variable_is_a_config_error(tmp_path: Path) -> None:
    gha = GitHubActions({"GITHUB_ACTIONS": "true"}, io.StringIO(), io.StringIO())
    with pytest.raises(ConfigError, match=r"\$GITHUB_OUTPUT is not set"):
        gha.set_output("name", "value")


def test_mask_masks_every_line_separately(tmp_path: Path) -> None:
    gha, stdout, _, _, _ = _actions(tmp_path)
    assert gha.mask("first-line\r\nsecond 100%\n   \n\nthird") is True
    assert stdout.getvalue() == ("::add-mask::first-line\n::add-mask::second 100%25\n::add-mask::third\n")


def test_summary_appends(tmp_path: Path) -> None:
    gha, _, _, _, summary = _actions(tmp_path)
    summary.write_text("# earlier step\n")
    assert gha.add_summary("## jitpim\n\n| lease | state |\n|---|---|\n| a | released |")
    assert gha.add_summary("done\n")
    assert summary.read_text() == "# earlier step\n## jitpim\n\n| lease | state |\n|---|---|\n| a | released |\ndone\n"


def test_summary_refuses_to_pass_the_runner_limit(tmp_path: Path) -> None:
    gha, stdout, _, _, summary = _actions(tmp_path)
    summary.write_text("x" * (STEP_SUMMARY_LIMIT_BYTES - 10))
    assert gha.add_summary("this part is too big") is False
    assert summary.stat().st_size == STEP_SUMMARY_LIMIT_BYTES - 10  # what was there stays uploadable
    assert stdout.getvalue().startswith("::warning title=jitpim summary truncated::")
    assert gha.add_summary("fits") is True


def test_annotation_escaping(tmp_path: Path) -> None:
    gha, stdout, _, _, _ = _actions(tmp_path)
    gha.notice("100% done\nnext line\r", title="lease: granted, effective")
    gha.warning("plain")
    gha.error("failed: release", title="Release failed", file="src/app.py", line=12)
    assert stdout.getvalue().splitlines() == [
        "::notice title=lease%3A granted%2C effective::100%25 done%0Anext line%0D",
        "::warning::plain",
        "::error title=Release failed,file=src/app.py,line=12::failed: release",
    ]
    assert escape_data("a%b\r\nc") == "a%25b%0D%0Ac"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_group_ends_even_when_the_block_fails(tmp_path: Path) -> None:
    gha, stdout, _, _, _ = _actions(tmp_path)
    with pytest.raises(RuntimeError), gha.group("Granting 2 leases"):
        stdout.write("inside\n")
        raise RuntimeError("boom")
    assert stdout.getvalue() == "::group::Granting 2 leases\ninside\n::endgroup::\n"


def test_oidc_availability() -> None:
    assert not GitHubActions({"GITHUB_ACTIONS": "true"}).oidc_available
    assert not GitHubActions({"ACTIONS_ID_TOKEN_REQUEST_URL": "https://x/token"}).oidc_available
    both = {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://x/token", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "abc"}
    assert GitHubActions(both).oidc_available


def test_outside_actions_everything_is_a_no_op_except_annotations(tmp_path: Path) -> None:
    output = tmp_path / "github_output"
    summary = tmp_path / "step_summary"
    stdout, stderr = io.StringIO(), io.StringIO()
    # A stray GITHUB_OUTPUT outside a job (say, a developer's shell) must not be written.
    gha = GitHubActions({"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}, stdout, stderr)
    assert not gha.active
    assert gha.mask("secret-value") is False
    assert gha.set_output("lease-id", "x") is False
    assert gha.add_summary("# hi") is False
    with gha.group("quiet"):
        pass
    gha.notice("granted", title="Lease")
    gha.warning("slow propagation")
    gha.error("release failed", file="a.py", line=3)
    assert stdout.getvalue() == ""
    assert stderr.getvalue() == (
        "jitpim: notice: Lease: granted\njitpim: warning: slow propagation\njitpim: error: a.py:3: release failed\n"
    )
    assert not output.exists() and not summary.exists()
    with pytest.raises(UsageError):
        gha.set_output("bad name", "x")  # names are checked everywhere, so a bug shows locally too


def test_defaults_read_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    gha = GitHubActions()
    assert gha.active
    gha.mask("abc")
    assert capsys.readouterr().out == "::add-mask::abc\n"


def test_a_value_containing_the_delimiter_gets_another_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gha, _, _, output, _ = _actions(tmp_path)
    draws = iter(["0" * 32, "1" * 32])
    monkeypatch.setattr("jitpim.ci.github.secrets.token_hex", lambda _n: next(draws))
    value = f"ghadelimiter_{'0' * 32}\nend"
    gha.set_output("tricky", value)
    delimiter = f"ghadelimiter_{'1' * 32}"
    assert output.read_text() == f"tricky<<{delimiter}\n{value}\n{delimiter}\n"
    assert _parse_outputs(output.read_text()) == {"tricky": value}


def test_annotations_cannot_carry_escape_sequences_or_forge_commands(tmp_path: Path) -> None:
    """A message echoing user input (a scope with a newline, an ESC sequence, a bidi override) stays one
    annotation: no new line starts, no terminal control reaches the log, inside Actions and outside."""
    gha, stdout, _, _, _ = _actions(tmp_path)
    gha.error("scope /x\n::warning::forged\x1b[2K\u202e", title="bad\x1b[31m")
    lines = stdout.getvalue().splitlines()
    assert lines == ["::error title=bad\\x1b[31m::scope /x%0A::warning::forged\\x1b[2K\\u202e"]
    with gha.group("name\n::error::x"):
        pass
    assert stdout.getvalue().splitlines()[1] == "::group::name%0A::error::x"
    outside_err = io.StringIO()
    local = GitHubActions({}, io.StringIO(), outside_err)
    local.warning("a\n::error::b\x1b]0;t\x07")
    assert outside_err.getvalue() == "jitpim: warning: a\\n::error::b\\x1b]0;t\\x07\n"
