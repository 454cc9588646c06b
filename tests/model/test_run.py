"""RunContext read from a GitHub Actions environment."""

from __future__ import annotations

from jitpim.model import RunContext

GITHUB_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "contoso/payments",
    "GITHUB_REF": "refs/pull/57/merge",
    "GITHUB_SHA": "0123abcd",
    "GITHUB_WORKFLOW": "rotate",
    "GITHUB_JOB": "rotate-db",
    "GITHUB_RUN_ID": "9876543210",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_RUN_NUMBER": "42",
    "GITHUB_ACTOR": "octocat",
    "GITHUB_EVENT_NAME": "pull_request",
    "GITHUB_SERVER_URL": "https://github.com",
    "JITPIM_ENVIRONMENT": "production",
}


def test_from_environ_reads_every_field_when_in_github_actions() -> None:
    """All GITHUB_* fields are read; the PR number comes from refs/pull/N/merge."""
    run = RunContext.from_environ(GITHUB_ENV)
    assert run.is_ci
    assert run.repository == "contoso/payments"
    assert run.pr_number == 57
    assert (run.run_id, run.run_attempt, run.run_number) == ("9876543210", 2, 42)
    assert (run.actor, run.event_name, run.environment, run.job) == (
        "octocat",
        "pull_request",
        "production",
        "rotate-db",
    )
    assert run.run_key == "gh-9876543210-2"
    assert run.run_url == "https://github.com/contoso/payments/actions/runs/9876543210/attempts/2"


def test_from_environ_has_no_pr_number_when_ref_is_a_branch() -> None:
    """A branch ref carries no PR number; refs/pull/N/head also counts."""
    assert RunContext.from_environ({**GITHUB_ENV, "GITHUB_REF": "refs/heads/main"}).pr_number is None
    assert RunContext.from_environ({**GITHUB_ENV, "GITHUB_REF": "refs/pull/8/head"}).pr_number == 8


def test_from_environ_is_local_when_not_in_github_actions() -> None:
    """Outside Actions only the OS user is recorded, even if stray GITHUB_* variables exist."""
    run = RunContext.from_environ({"USER": "alice", "GITHUB_RUN_ID": "1"})
    assert not run.is_ci
    assert run.actor == "alice" and run.repository is None and run.run_key is None and run.run_url is None


def test_to_json_round_trips_when_serialised() -> None:
    """to_json includes the run URL and from_json ignores it."""
    run = RunContext.from_environ(GITHUB_ENV)
    data = run.to_json()
    assert data["run_url"].endswith("/attempts/2")
    assert RunContext.from_json(data) == run


def test_from_environ_tolerates_malformed_numbers_when_values_are_odd() -> None:
    """Non-numeric attempt/number fields become None rather than failing the job."""
    run = RunContext.from_environ({**GITHUB_ENV, "GITHUB_RUN_ATTEMPT": "x", "GITHUB_RUN_NUMBER": ""})
    assert run.run_attempt is None and run.run_number is None
    assert run.run_key == "gh-9876543210-1"
