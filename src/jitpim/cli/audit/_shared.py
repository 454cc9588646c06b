"""What the `jitpim audit` commands share: the ledger and filter options, opening the ledger, the signer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ...errors import UsageError
from ...model import LeaseState
from ...safe_text import neutralise
from .._output import LEDGER_HELP

if TYPE_CHECKING:
    from ...audit.export import ExportFilters
    from ...audit.signing import Signer
    from ...audit.store import AuditStore

__all__ = [
    "_FINISHED",
    "F",
    "_filters",
    "_filters_from",
    "_open",
    "_say",
    "_short",
    "_signer",
    "_when",
    "ledger_option",
]

F = TypeVar("F", bound=Callable[..., Any])

# Leases whose lifecycle is over: released, expired, failed, and release_failed (the lifecycle ended without
# removing the access: exactly the record a security team needs; a later release supersedes it).
_FINISHED = frozenset({LeaseState.RELEASED, LeaseState.EXPIRED, LeaseState.FAILED, LeaseState.RELEASE_FAILED})

ledger_option = click.option(
    "--ledger",
    envvar="JITPIM_LEDGER",
    help=LEDGER_HELP,
)


def _filters(func: F) -> F:
    for decorator in reversed(
        (
            click.option("--since", help="Leases created at or after: ISO-8601 time, or a duration ago (7d, 12h)."),
            click.option("--until", help="Leases created at or before: ISO-8601 time, or a duration ago."),
            click.option("--principal", help="Principal object id."),
            click.option("--target", help="Substring of the target kind, role name or id, or scope."),
            click.option("--repository", help="CI repository, owner/name."),
            click.option("--outcome", help="Outcome, e.g. released, left_to_expire, release_failed, denied."),
            click.option("--state", help="Lease state, e.g. released, expired, release_failed."),
            click.option("--run-id", help="CI run id."),
        )
    ):
        func = decorator(func)
    return func


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except ValueError:
        pass
    from ...model import parse_duration

    try:
        return datetime.now(UTC) - parse_duration(value)
    except Exception:
        raise UsageError(f"{name}: {value!r} is neither an ISO-8601 time nor a duration such as 7d") from None


def _filters_from(kwargs: dict[str, Any]) -> ExportFilters:
    from ...audit.export import ExportFilters

    return ExportFilters(
        since=_when(kwargs.pop("since"), "--since"),
        until=_when(kwargs.pop("until"), "--until"),
        principal=kwargs.pop("principal"),
        target=kwargs.pop("target"),
        repository=kwargs.pop("repository"),
        outcome=kwargs.pop("outcome"),
        state=kwargs.pop("state"),
        run_id=kwargs.pop("run_id"),
    )


def _open(ledger: str | None, *, view: bool = False) -> AuditStore:
    """The ledger; with `view`, one this user may read but not write opens read-only (a copy handed to an
    auditor, a ledger on a read-only mount), since listing and showing write nothing."""
    from ...audit.store import open_store
    from ...errors import LedgerError

    try:
        return open_store(ledger)
    except LedgerError:
        if not view:
            raise
    try:
        return open_store(ledger, read_only=True)
    except LedgerError as exc:
        exc.hint = "Check --ledger / JITPIM_LEDGER names a ledger this user may read."
        raise


def _signer(store: AuditStore, *, create: bool) -> Signer | None:
    from ...audit.signing import load_signer
    from ...audit.store import store_file

    return load_signer(ledger_path=store_file(store), create=create)


def _say(line: str) -> None:
    """Print one line of a stored record: its fields (a justification, a ticket, a CI actor) came from
    outside, and a record may be old or tampered with, so control characters are written as escapes and
    cannot start a forged log line or workflow command."""
    click.echo(neutralise(line))


def _short(text: str | None, width: int) -> str:
    text = text or "-"
    return text if len(text) <= width else "..." + text[-(width - 3) :]
