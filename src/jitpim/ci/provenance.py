"""CI provenance from the job's verified GitHub ID token, not from variables any step can rewrite.

`GITHUB_REPOSITORY`, `GITHUB_SHA` and the rest are plain environment variables: an earlier step can change
them for later ones (`$GITHUB_ENV`), and a signed record that repeats them proves nothing. The job's OIDC
ID token is signed by GitHub and names the same facts as claims. `verified_run_context` fetches one (the
same way jitpim's own credential does), verifies it against the issuer's keys
(`jitpim.auth.verify_github_id_token`), and records:

    repository, ref, sha, workflow, workflow_ref, job_workflow_ref, run_id, run_attempt, run_number,
    environment, event_name, actor, subject (`sub`)          <- the verified claims
    job, server_url                                          <- not in the token: the environment

with `provenance: github-oidc`, and in `mismatches` every field where the environment said something else
(each one is also a warning in the job log). Without an ID token (no `id-token: write`), or with one from
another issuer (GitHub Enterprise Server), the record keeps the environment's values marked
`provenance: environment`, and a warning says they are unverified.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from ..auth.github_oidc import GITHUB_ISSUER, GitHubOidcTokenSource, verify_github_id_token
from ..auth.identity import unverified_claims
from ..cloud import CloudProfile
from ..model import RunContext

__all__ = ["COMPARED_FIELDS", "mismatch_lines", "run_context_from_claims", "verified_run_context"]

_PULL_REF: Final = re.compile(r"^refs/pull/(\d+)/(?:merge|head)$")
# The fields both the token and the environment name, with the variable that carries each.
COMPARED_FIELDS: Final = (
    ("repository", "GITHUB_REPOSITORY"),
    ("ref", "GITHUB_REF"),
    ("sha", "GITHUB_SHA"),
    ("workflow", "GITHUB_WORKFLOW"),
    ("workflow_ref", "GITHUB_WORKFLOW_REF"),
    ("run_id", "GITHUB_RUN_ID"),
    ("run_attempt", "GITHUB_RUN_ATTEMPT"),
    ("run_number", "GITHUB_RUN_NUMBER"),
    ("actor", "GITHUB_ACTOR"),
    ("event_name", "GITHUB_EVENT_NAME"),
    ("environment", "JITPIM_ENVIRONMENT"),
)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text is not None and text.isdigit() else None


def run_context_from_claims(claims: Mapping[str, Any], environ: Mapping[str, str]) -> RunContext:
    """The run context a verified token states, compared with `environ` (see the module docstring)."""
    ref = _text(claims.get("ref"))
    pull = _PULL_REF.match(ref or "")
    mismatches: list[dict[str, str | None]] = []
    for name, variable in COMPARED_FIELDS:
        claimed, stated = _text(claims.get(name)), _text(environ.get(variable))
        # A variable the runner did not set is no disagreement; a different value is.
        if stated is not None and stated != claimed:
            mismatches.append({"field": name, "variable": variable, "claim": claimed, "environment": stated})
    return RunContext(
        repository=_text(claims.get("repository")),
        ref=ref,
        sha=_text(claims.get("sha")),
        workflow=_text(claims.get("workflow")),
        job=_text(environ.get("GITHUB_JOB")),
        run_id=_text(claims.get("run_id")),
        run_attempt=_int(claims.get("run_attempt")),
        run_number=_int(claims.get("run_number")),
        actor=_text(claims.get("actor")),
        event_name=_text(claims.get("event_name")),
        pr_number=int(pull.group(1)) if pull else None,
        environment=_text(claims.get("environment")),
        server_url=_text(environ.get("GITHUB_SERVER_URL")) or "https://github.com",
        workflow_ref=_text(claims.get("workflow_ref")),
        job_workflow_ref=_text(claims.get("job_workflow_ref")),
        subject=_text(claims.get("sub")),
        provenance="github-oidc",
        mismatches=tuple(mismatches),
    )


def _token_source(environ: Mapping[str, str], cloud: CloudProfile) -> GitHubOidcTokenSource | None:
    url = _text(environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"))
    token = _text(environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
    if url is None or token is None:
        return None
    return GitHubOidcTokenSource(url, token, audience=cloud.token_exchange_audience, cloud=cloud)


def mismatch_lines(run: RunContext) -> list[str]:
    """One sentence per disagreement between the environment and the verified token."""
    return [
        f"{m['variable']}={m['environment']!r} but the verified GitHub ID token says {m['field']}={m['claim']!r}; "
        "the token's value is recorded"
        for m in run.mismatches
    ]


def verified_run_context(
    cloud: CloudProfile,
    *,
    environ: Mapping[str, str] | None = None,
    source: GitHubOidcTokenSource | None = None,
    warn: Callable[[str], None] | None = None,
) -> RunContext:
    """The run context to record: from the verified ID token when the job can get one (`source`, or the
    runner's ACTIONS_ID_TOKEN_REQUEST_* pair), else from the environment, marked unverified. A token that
    does not verify raises `AuthError` (nothing is granted on forged provenance)."""
    env = os.environ if environ is None else environ
    source = source or _token_source(env, cloud)
    if source is None:
        run = RunContext.from_environ(env)
        if run.is_ci and warn is not None:
            warn(
                "CI provenance is taken from GITHUB_* variables and is unverified: give the job "
                "`permissions: id-token: write` so jitpim records the claims of its signed ID token"
            )
        return run
    token = source()
    issuer = unverified_claims(token).get("iss")
    if issuer != GITHUB_ISSUER:
        # GitHub Enterprise Server issues its own tokens (https://HOST/_services/token); its keys are not a trust
        # anchor jitpim knows, so the record says unverified rather than trusting a host the job names.
        run = RunContext.from_environ(env)
        if warn is not None:
            warn(
                f"the job's ID token comes from issuer {issuer!r}, not {GITHUB_ISSUER}; CI provenance is taken "
                "from GITHUB_* variables and is unverified"
            )
        return run
    run = run_context_from_claims(verify_github_id_token(token, cloud=cloud, audience=source.audience), env)
    if warn is not None:
        for line in mismatch_lines(run):
            warn(line)
    return run
