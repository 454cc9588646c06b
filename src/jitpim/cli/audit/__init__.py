"""`jitpim audit list|show|export|verify|flush|reconcile|finalize|public-key`: read, prove and ship the record.

Human output by default, one JSON document with `--output json`. The ledger is `--ledger` / `$JITPIM_LEDGER`
(a SQLite file, or a `postgresql://` DSN). Exit codes: 0 when everything held; 83 (`AuditError`) when a
verification fails, a sink did not take every record (they stay queued for `flush`), or reconcile found
discrepancies (unless `--no-fail`).

One module per command (`listing`, `show`, `export`, `verify`, `flush`, `finalize`, `public_key`,
`reconcile`; `report` in `cli/audit_report.py`), registered on the group here.
"""

from __future__ import annotations

import click

__all__ = ["audit"]


@click.group()
def audit() -> None:
    """The audit trail: signed, hash-chained records of every lease, and where they go.

    \b
    Every lease ends with one summary record signed with Ed25519 and chained in the ledger.
    `verify` proves a ledger or an exported file was not altered; `export` writes JSON lines (verifiable)
    or CSV; `flush` retries sinks that failed; `reconcile` compares the ledger with Entra's audit log and
    the live assignments. Reference: docs/reference/audit.md.
    """


def _register() -> None:
    """One module per command; `audit report` lives in `cli/audit_report.py`."""
    from ..audit_report import report
    from .export import export
    from .finalize import finalize
    from .flush import flush
    from .listing import list_
    from .public_key import public_key
    from .reconcile import reconcile
    from .show import show
    from .verify import verify

    for command in (list_, show, export, verify, flush, reconcile, finalize, public_key, report):
        audit.add_command(command)


_register()
