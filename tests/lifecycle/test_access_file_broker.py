"""The access file's `broker:` section (where `--mode broker` and `jitpim approvals` find the broker): read
strictly like the rest of the file, a bad URL refused at load with its line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from jitpim.errors import ConfigError
from jitpim.lifecycle import load_access_file

PROFILES = """\
profiles:
  deploy:
    mode: broker
    targets:
      - kind: rbac
        role: Contributor
        scope: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-payments
"""


def _load(tmp_path: Path, broker: str) -> object:
    path = tmp_path / "jitpim.yaml"
    path.write_text("version: 1\n" + broker + PROFILES)
    return load_access_file(path)


def test_broker_url_and_audience_are_read(tmp_path: Path) -> None:
    access = _load(tmp_path, "broker:\n  url: https://broker.contoso.com/\n  audience: api://jitpim-broker\n")
    assert access.broker is not None  # type: ignore[attr-defined]
    assert access.broker.url == "https://broker.contoso.com"  # type: ignore[attr-defined]
    assert access.broker.audience == "api://jitpim-broker"  # type: ignore[attr-defined]
    assert access.profile("deploy").mode == "broker"  # type: ignore[attr-defined]


def test_no_broker_section_means_none(tmp_path: Path) -> None:
    assert _load(tmp_path, "").broker is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("broker:\n  url: http://broker.contoso.com\n", "must be https://"),
        ("broker:\n  url: ftp://broker.contoso.com\n", "must be https://"),
        ("broker:\n  url: https://user:pw@broker.contoso.com\n", "must not carry credentials"),
        ("broker:\n  url: https://broker.contoso.com/?code=1\n", "must not carry credentials"),
        ("broker:\n  audience: api://x\n", "url is required"),
        ("broker:\n  url: https://broker.contoso.com\n  adress: x\n", "adress"),
        ("broker: https://broker.contoso.com\n", "broker"),
        ("broker:\n  url: 42\n", "url must be text"),
        ("broker:\n  url: https://broker.contoso.com\n  audience: ''\n", "audience is empty"),
    ],
)
def test_a_bad_broker_section_is_refused_with_its_line(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        _load(tmp_path, section)
    assert "jitpim.yaml" in str(caught.value)
    assert caught.value.hint


def test_http_on_loopback_is_allowed(tmp_path: Path) -> None:
    access = _load(tmp_path, "broker:\n  url: http://127.0.0.1:8080\n")
    assert access.broker.url == "http://127.0.0.1:8080"  # type: ignore[attr-defined]
