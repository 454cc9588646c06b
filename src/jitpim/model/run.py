"""Where a request comes from: the CI run (GitHub Actions first) or a person's terminal.

Read once from the environment and carried in every lease and audit record as provenance.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RunContext"]

_PULL_REF = re.compile(r"^refs/pull/(\d+)/(?:merge|head)$")


def _int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


@dataclass(frozen=True)
class RunContext:
    """CI provenance. Every field is None outside CI (a local run has only `actor`, from the OS user).

    `environment` is the GitHub deployment environment; the runner does not export its name, so the jitpim
    Action passes it as `JITPIM_ENVIRONMENT` (variables starting with `GITHUB_` are reserved for the runner).

    `provenance` says where the fields come from: `github-oidc` (the claims of the job's ID token, verified
    against GitHub's keys: what jitpim records whenever the job can get one), `environment` (the `GITHUB_*`
    variables, which any earlier step can rewrite: unverified), or None outside CI. `mismatches` lists every
    field where the environment disagreed with the verified token: `field`, `variable`, `claim` (the token's
    value, the one recorded) and `environment`.
    """

    repository: str | None = None
    ref: str | None = None
    sha: str | None = None
    workflow: str | None = None
    job: str | None = None
    run_id: str | None = None
    run_attempt: int | None = None
    run_number: int | None = None
    actor: str | None = None
    event_name: str | None = None
    pr_number: int | None = None
    environment: str | None = None
    server_url: str | None = None
    workflow_ref: str | None = None
    job_workflow_ref: str | None = None
    subject: str | None = None
    provenance: str | None = None
    mismatches: tuple[dict[str, str | None], ...] = ()

    @classmethod
    def from_environ(cls, env: Mapping[str, str] | None = None) -> RunContext:
        """Read GitHub Actions' `GITHUB_*` variables (the PR number from `GITHUB_REF` `refs/pull/N/merge`)."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        if get("GITHUB_ACTIONS") != "true" or get("GITHUB_RUN_ID") is None:
            return cls(actor=get("USER") or get("USERNAME"))
        ref = get("GITHUB_REF")
        pull = _PULL_REF.match(ref or "")
        return cls(
            repository=get("GITHUB_REPOSITORY"),
            ref=ref,
            sha=get("GITHUB_SHA"),
            workflow=get("GITHUB_WORKFLOW"),
            job=get("GITHUB_JOB"),
            run_id=get("GITHUB_RUN_ID"),
            run_attempt=_int(get("GITHUB_RUN_ATTEMPT")),
            run_number=_int(get("GITHUB_RUN_NUMBER")),
            actor=get("GITHUB_ACTOR"),
            event_name=get("GITHUB_EVENT_NAME"),
            pr_number=int(pull.group(1)) if pull else None,
            environment=get("JITPIM_ENVIRONMENT"),
            server_url=get("GITHUB_SERVER_URL") or "https://github.com",
            workflow_ref=get("GITHUB_WORKFLOW_REF"),
            provenance="environment",
        )

    @property
    def is_ci(self) -> bool:
        """True inside a CI run (today: a GitHub Actions job)."""
        return self.run_id is not None

    @property
    def run_key(self) -> str | None:
        """The lease-id prefix for this run, `gh-<run_id>-<attempt>`; None outside CI."""
        if self.run_id is None:
            return None
        return f"gh-{self.run_id}-{self.run_attempt or 1}"

    @property
    def run_url(self) -> str | None:
        """Link to the run (and attempt) on GitHub."""
        if self.run_id is None or self.repository is None:
            return None
        url = f"{(self.server_url or 'https://github.com').rstrip('/')}/{self.repository}/actions/runs/{self.run_id}"
        return f"{url}/attempts/{self.run_attempt}" if self.run_attempt else url

    @property
    def verified(self) -> bool:
        """True when the provenance comes from a verified GitHub ID token."""
        return self.provenance == "github-oidc"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mismatches"] = [dict(m) for m in self.mismatches]
        data["run_url"] = self.run_url
        data["verified"] = self.verified
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunContext:
        fields = {name for name in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in fields}
        mismatches = values.get("mismatches") or ()
        values["mismatches"] = tuple(dict(m) for m in mismatches if isinstance(m, Mapping))
        return cls(**values)
