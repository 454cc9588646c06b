"""Text echoed into a terminal or CI log stays one line and can start no workflow command."""

from __future__ import annotations

import pytest

from jitpim.errors import ConfigError, UsageError
from jitpim.safe_text import control_characters, neutralise


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("/subscriptions/x", "/subscriptions/x"),
        ("Déploiement 東京", "Déploiement 東京"),
        ("a\nb", "a\\nb"),
        ("a\r\n::warning::pwned", "a\\r\\n::warning::pwned"),
        ("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
        ("x\u2028y\u2029z\x85", "x\\u2028y\\u2029z\\x85"),
        ("abc\u202edef", "abc\\u202edef"),
        ("::add-mask::x", "\\x3a:add-mask::x"),
        ("  ::error::x", "  \\x3a:error::x"),
        ("a::b", "a::b"),
        ("tab\there", "tab\\there"),
    ],
)
def test_neutralise_writes_controls_as_escapes(raw: str, shown: str) -> None:
    assert neutralise(raw) == shown
    assert not control_characters(neutralise(raw))


def test_control_characters_lists_each_once() -> None:
    assert control_characters("a\nb\nc\x1b") == ["\\n", "\\x1b"]
    assert control_characters("plain") == []


def test_every_error_message_hint_and_target_is_one_line() -> None:
    """Errors echo user input (a scope, a profile name); none can inject a log line or a command."""
    error = UsageError("scope x\n::warning::pwned", hint="fix\r\n::error::x", target="t\x1b[31m")
    assert "\n" not in str(error) and "\r" not in error.hint and "\x1b" not in str(error)
    error.target = "late\n::notice::x"  # set after construction, as the lifecycle does
    error.hint = "late\nhint"
    assert str(error).startswith("late\\n::notice::x: ") and error.hint == "late\\nhint"
    assert ConfigError("ok", hint=None).hint == ""
    assert error.to_json()["message"] == "scope x\\n::warning::pwned"
