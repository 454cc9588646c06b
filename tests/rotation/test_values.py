"""New secret values: generation, generator commands, stdin and files, and the wrapper that never prints."""

from __future__ import annotations

import io
import pickle
import string
import sys
from pathlib import Path

import pytest

from jitpim.errors import RotationError, UsageError
from jitpim.rotation import SecretValue, from_file, from_generator, from_stream, generate, resolve_alphabet


def test_generated_values_have_the_length_and_every_class_of_the_alphabet() -> None:
    for _ in range(50):
        value, source = generate(24, "alnum")
        text = value.reveal()
        assert len(text) == 24
        assert set(text) <= set(string.ascii_letters + string.digits)
        for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
            assert any(c in group for c in text)
    assert source.kind == "generated" and "24 characters" in source.detail


def test_generated_values_differ() -> None:
    values = {generate(32)[0].reveal() for _ in range(200)}
    assert len(values) == 200


def test_alphabet_presets_and_custom_characters() -> None:
    assert resolve_alphabet("hex")[0] == "0123456789abcdef"
    chars, described = resolve_alphabet("abcdefghijKLMNOP0123")
    assert chars == "abcdefghijKLMNOP0123" and "custom" in described
    value, _ = generate(16, "hex")
    assert set(value.reveal()) <= set("0123456789abcdef")
    with pytest.raises(UsageError):
        resolve_alphabet("abc")
    with pytest.raises(UsageError):
        resolve_alphabet("abcdefghij klmnop")


def test_length_bounds() -> None:
    with pytest.raises(UsageError):
        generate(8)
    with pytest.raises(UsageError):
        generate(100_000)


def test_secret_value_never_renders_itself() -> None:
    value = SecretValue("hunter2-very-secret")
    for rendered in (repr(value), str(value), f"{value}", f"{value!r}", f"{value:>40}", str([value])):
        assert "hunter2" not in rendered
    assert value == SecretValue("hunter2-very-secret")
    assert value != SecretValue("other")
    with pytest.raises(TypeError):
        hash(value)
    with pytest.raises(TypeError):
        pickle.dumps(value)


def test_generator_stdout_is_the_value_and_its_stderr_is_dropped(capfd: pytest.CaptureFixture[str]) -> None:
    script = "import sys; sys.stderr.write('gen-stderr-value\\n'); print('generated-value-123')"
    value, source = from_generator(f'{sys.executable} -c "{script}"')
    assert value.reveal() == "generated-value-123"
    assert source.kind == "generator"
    captured = capfd.readouterr()
    assert "gen-stderr-value" not in captured.err + captured.out
    assert "generated-value-123" not in captured.err + captured.out


def test_failing_or_empty_generator_is_refused() -> None:
    with pytest.raises(RotationError, match="exited with 3"):
        from_generator(f'{sys.executable} -c "import sys; sys.exit(3)"')
    with pytest.raises(RotationError, match="empty"):
        from_generator(f'{sys.executable} -c "pass"')
    with pytest.raises(UsageError, match="not found"):
        from_generator("/nonexistent/generator")


def test_stdin_and_file(tmp_path: Path) -> None:
    value, source = from_stream(io.BytesIO(b"issued-by-vendor\n"))
    assert value.reveal() == "issued-by-vendor" and source.kind == "stdin"
    path = tmp_path / "v"
    path.write_bytes(b"from-a-file\r\n")
    value, source = from_file(path)
    assert value.reveal() == "from-a-file" and source.detail == str(path)
    with pytest.raises(RotationError, match="25"):
        from_stream(io.BytesIO(b"x" * (25 * 1024 + 1)))
    with pytest.raises(RotationError, match="UTF-8"):
        from_stream(io.BytesIO(b"\xff\xfe"))
    with pytest.raises(UsageError):
        from_file(tmp_path / "missing")
