"""The validation command gets the value through an inherited descriptor or a 0600 file, never through its
argv or environment (it checks its own /proc entries), and is never left running."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from jitpim.errors import UsageError
from jitpim.rotation import SecretValue, ValidationSpec, run_validation

VALUE = "v4lue-under-test-9f8e7d6c5b4a"

# Reads the value as documented, then looks for it in its own process-table entries.
CHILD = textwrap.dedent(
    """
    import os, stat, sys
    if "JITPIM_SECRET_FD" in os.environ:
        with open("/dev/fd/" + os.environ["JITPIM_SECRET_FD"]) as handle:
            value = handle.read()
    else:
        path = os.environ["JITPIM_SECRET_FILE"]
        mode = stat.S_IMODE(os.stat(path).st_mode)
        dir_mode = stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)
        if mode != 0o600 or dir_mode != 0o700:
            sys.exit(10)
        value = open(path).read()
        open(sys.argv[2], "w").write(path)
    if value != sys.argv[1][::-1]:
        sys.exit(11)
    for entry in ("cmdline", "environ"):
        if value.encode() in open("/proc/self/" + entry, "rb").read():
            sys.exit(12)
    if os.environ.get("JITPIM_SECRET_NAME") != "db-password":
        sys.exit(13)
    sys.exit(0)
    """
)


def _spec(via: str, tmp_path: Path) -> ValidationSpec:
    # The child gets the value reversed in argv so that it can compare without the value being in argv.
    return ValidationSpec.parse([sys.executable, "-c", CHILD, VALUE[::-1], str(tmp_path / "where")], via=via)


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
@pytest.mark.parametrize("via", ["fd", "file"])
def test_the_value_arrives_and_is_not_in_argv_or_environment(via: str, tmp_path: Path) -> None:
    result = run_validation(
        _spec(via, tmp_path),
        SecretValue(VALUE),
        environ=dict(os.environ),
        extra_env={"JITPIM_SECRET_NAME": "db-password"},
    )
    assert result.ok, result.exit_code
    assert result.via == via
    if via == "file":
        path = Path((tmp_path / "where").read_text())
        assert not path.exists() and not path.parent.exists()  # removed afterwards


def test_the_value_file_is_removed_even_when_the_command_fails(tmp_path: Path) -> None:
    script = "import os,sys; open(sys.argv[1],'w').write(os.environ['JITPIM_SECRET_FILE']); sys.exit(4)"
    spec = ValidationSpec.parse([sys.executable, "-c", script, str(tmp_path / "where")], via="file")
    result = run_validation(spec, SecretValue(VALUE))
    assert not result.ok and result.exit_code == 4
    assert not Path((tmp_path / "where").read_text()).exists()


def test_a_command_that_never_reads_its_descriptor_does_not_hang() -> None:
    spec = ValidationSpec.parse([sys.executable, "-c", "pass"])
    assert run_validation(spec, SecretValue("x" * 20_000)).ok


def test_timeout_stops_the_command() -> None:
    spec = ValidationSpec.parse([sys.executable, "-c", "import time; time.sleep(30)"], timeout=timedelta(seconds=0.5))
    result = run_validation(spec, SecretValue(VALUE))
    assert result.timed_out and not result.ok


def test_signals_are_forwarded_to_the_command() -> None:
    installed = threading.Event()
    forwarders: list[Callable[[int], None]] = []

    @contextmanager
    def scope(forward: Callable[[int], None]) -> Iterator[None]:
        forwarders.append(forward)
        installed.set()
        yield

    def later() -> None:
        installed.wait(10)
        time.sleep(0.3)  # the command is running (not a test of timing: it ends only by the signal)
        forwarders[0](signal.SIGTERM)

    spec = ValidationSpec.parse([sys.executable, "-c", "import time; time.sleep(30)"], timeout=timedelta(seconds=20))
    thread = threading.Thread(target=later)
    thread.start()
    result = run_validation(spec, SecretValue(VALUE), signals=scope)
    thread.join()
    assert result.signal == signal.SIGTERM and result.exit_code == 128 + signal.SIGTERM


def test_bad_commands() -> None:
    with pytest.raises(UsageError):
        ValidationSpec.parse("")
    with pytest.raises(UsageError):
        run_validation(ValidationSpec.parse("no-such-command-here"), SecretValue(VALUE))
    with pytest.raises(UsageError):
        ValidationSpec.parse("true", via="env")
