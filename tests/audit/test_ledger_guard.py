"""Secrets never enter the ledger: the guard refuses them before anything is written."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from jitpim.audit import SECRET_ROTATED, Ledger, assert_no_secrets, is_sensitive_key
from jitpim.errors import LedgerError

SECRET = "s3cr3t-Value-that-must-not-leak"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiIxMjM0NTY3OCJ9.c2lnbmF0dXJlLWJ5dGVz"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----"


def _row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "lease_id": "run-5/azure-role/officer",
        "state": "requested",
        "kind": "azure-role",
        "role": "Key Vault Secrets Officer",
        "scope": "/subscriptions/00000000-0000-0000-0000-000000000001",
        "mode": "direct",
    }
    row.update(overrides)
    return row


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"secret": SECRET}, "body.secret"),
        ({"client_secret": SECRET}, "body.client_secret"),
        ({"password": SECRET}, "body.password"),
        ({"token": SECRET}, "body.token"),
        ({"accessToken": SECRET}, "body.accessToken"),
        ({"value": SECRET}, "body.value"),
        ({"secretValue": SECRET}, "body.secretValue"),
        ({"new-value": SECRET}, "body.new-value"),
        ({"secretText": SECRET}, "body.secretText"),
        ({"rotated": [{"name": "db", "value": SECRET}]}, "body.rotated[0].value"),
        ({"tokens": ["", SECRET]}, "body.tokens"),
        ({"note": JWT}, "body.note"),  # a token under an innocent name
        ({"items": ["ok", f"Bearer {JWT}"]}, "body.items[1]"),
        ({"cert": PEM}, "body.cert"),
    ],
)
def test_secret_shaped_fields_are_refused(body: dict[str, Any], field: str) -> None:
    with pytest.raises(LedgerError) as caught:
        assert_no_secrets(body)
    message = str(caught.value)
    assert repr(field) in message
    assert SECRET not in message and JWT not in message and "MIIE" not in message
    assert "version id" in caught.value.hint


@pytest.mark.parametrize(
    "body",
    [
        {"secret_name": "db-password", "version_id": "8f3a1c"},  # names and versions are evidence
        {"secret_version_id": "8f3a1c", "previous_version_ids": ["a1", "b2"]},
        {"value": ""},  # empty: nothing to hide
        {"value": 3, "token_count": 2, "password_changed": True},
        {"secret": {"name": "db-password", "version_id": "8f3a1c"}},  # a description, checked inside
        {"token_expires_at": "2025-01-01T00:00:00Z", "token_type": "Bearer"},
        {"password_policy": None},
    ],
)
def test_ids_names_and_metadata_are_allowed(body: dict[str, Any]) -> None:
    assert_no_secrets(body)


def test_key_matching_rules() -> None:
    assert is_sensitive_key("Client-Secret")
    assert is_sensitive_key("refresh_token")
    assert is_sensitive_key("connection_string")
    assert not is_sensitive_key("secret_name")
    assert not is_sensitive_key("key_vault_secret_version_id")
    assert not is_sensitive_key("version_ids")


def test_begin_with_a_secret_writes_nothing_and_grants_nothing(tmp_path: Path) -> None:
    granted = []
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        for row in (
            _row(data={"client_secret": SECRET}),
            _row(run={"repository": "org/repo", "id_token": JWT}),
            _row(notes=[f"rotated to {JWT}"]),
            _row(justification=f"debug {JWT}"),
        ):
            with pytest.raises(LedgerError):
                ledger.begin(row)
                granted.append(row)
        with pytest.raises(LedgerError):
            ledger.begin(_row(), details={"password": SECRET})
        assert granted == []
        assert ledger.list() == []
        assert ledger.events() == []


def test_events_and_updates_with_secrets_are_refused(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        ledger.begin(_row())
        with pytest.raises(LedgerError, match=r"body\.value"):
            ledger.append_event("run-5/azure-role/officer", SECRET_ROTATED, {"name": "db", "value": SECRET})
        with pytest.raises(LedgerError, match=r"lease\.data\.nested\.password"):
            ledger.update("run-5/azure-role/officer", data={"nested": {"password": SECRET}})
        with pytest.raises(LedgerError):
            ledger.transition("run-5/azure-role/officer", "granted", "lease.granted", {"token": SECRET})
        event = ledger.append_event(
            "run-5/azure-role/officer", SECRET_ROTATED, {"secret_name": "db", "version_id": "8f3a1c"}
        )
        assert event["body"] == {"secret_name": "db", "version_id": "8f3a1c"}
        assert ledger.get("run-5/azure-role/officer")["state"] == "requested"
        assert [e["type"] for e in ledger.events()] == ["lease.requested", SECRET_ROTATED]
    assert SECRET.encode() not in (tmp_path / "l.sqlite3").read_bytes()


class _State(StrEnum):
    REQUESTED = "requested"


def test_domain_values_are_stored_as_plain_values(tmp_path: Path) -> None:
    """Enum members, timedeltas, tuples and read-only mappings (as jitpim.model holds them) are accepted."""
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        lease = ledger.begin(
            _row(
                state=_State.REQUESTED,
                requested_duration_s=timedelta(minutes=15),
                request_ids=MappingProxyType({"grant": "r-1"}),
                notes=("raised to the 5 minute minimum",),
            )
        )
    assert type(lease["state"]) is str
    assert lease["state"] == "requested"
    assert lease["requested_duration_s"] == 900
    assert lease["request_ids"] == {"grant": "r-1"}
    assert lease["notes"] == ["raised to the 5 minute minimum"]
