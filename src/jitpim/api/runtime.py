"""A typed runtime for one piece of work: the cloud session, the ledger, the clock, the progress timeline,
the CI run's provenance and its step outputs. Built from `Settings` (explicit, or from the environment);
every `jitpim.api` call takes one.

The run's provenance comes from the job's verified GitHub ID token when it has one (`ci.provenance`), fetched
on first use, so calls that record nothing never ask for a token; disagreements with `GITHUB_*` are warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

from ..audit.store import AuditStore, open_store
from ..ci.github import GitHubActions
from ..cloud import resolve_cloud
from ..http import default_sleep
from ..lifecycle import (
    Clock,
    EvidenceWriter,
    HoldContext,
    LifecycleOptions,
    Reporter,
    Session,
    Step,
    SystemClock,
    Timeline,
)
from ..lifecycle.emulated_time import EmulatorClock
from ..model import Mode, RunContext
from .settings import Settings

__all__ = ["Runtime"]


class _CancellableSleep:
    """How the HTTP layer waits between retries. Once a hold is being cancelled (GitHub kills the job 10 s
    after its first signal), no wait runs past the cancel budget: the release must finish inside it."""

    def __init__(self, clock: Clock, sleep: Callable[[float], None]) -> None:
        self._clock = clock
        self._sleep = sleep
        self.cutoff: datetime | None = None

    def cancel(self, cutoff: datetime) -> None:
        self.cutoff = cutoff if self.cutoff is None else min(self.cutoff, cutoff)

    def __call__(self, seconds: float) -> None:
        if self.cutoff is not None:
            seconds = min(seconds, max(0.0, (self.cutoff - self._clock.now()).total_seconds()))
        self._sleep(seconds)


@dataclass
class Runtime:
    """Everything the lifecycle runs with. Use `Runtime.open(settings)` as a context manager; the ledger is
    opened on first use (`plan` never touches it)."""

    settings: Settings
    session: Session
    clock: Clock
    timeline: Timeline
    github: GitHubActions
    _run: RunContext | None = field(default=None, repr=False)
    _http_sleep: _CancellableSleep | None = field(default=None, repr=False)
    _ledger: AuditStore | None = field(default=None, repr=False)
    _owns_ledger: bool = field(default=True, repr=False)

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        live: Reporter | None = None,
        github: GitHubActions | None = None,
        run: RunContext | None = None,
        ledger: AuditStore | None = None,
    ) -> Runtime:
        """A runtime for `settings` (default: from the environment). `clock` is injectable (tests, the demo),
        `live` receives each lifecycle step as it happens, `run` overrides the verified provenance (the demo's
        simulated job, tests), `ledger` may be one the caller already opened (it is then left open on close)."""
        settings = settings or Settings.from_environ()
        env = settings.environ
        # An injected clock also paces the HTTP retries (tests, the demo); else the HTTP layer's own sleep.
        paced = clock.sleep if clock is not None else default_sleep
        cloud = resolve_cloud(
            settings.cloud, emulator_url=settings.emulator_url, ca_bundle=settings.ca_bundle, environ=env
        )
        if clock is None and cloud.is_emulator:
            # Waits follow the emulator's own clock, so `jitpim emulator advance` shortens them.
            clock = EmulatorClock(cloud.authority_host, cloud.ca_bundle)
        clock = clock or SystemClock()
        http_sleep = _CancellableSleep(clock, paced)
        session = Session(cloud, settings.mode, clock, environ=env, sleep=http_sleep)
        return cls(
            settings=settings,
            session=session,
            clock=clock,
            timeline=Timeline(live=live),
            github=github or GitHubActions(environ=env),
            _run=run,
            _http_sleep=http_sleep,
            _ledger=ledger,
            _owns_ledger=ledger is None,
        )

    @property
    def run(self) -> RunContext:
        """The CI provenance to record (see the module docstring)."""
        if self._run is None:
            from ..ci.provenance import verified_run_context

            choice = self.session.credential_choice
            self._run = verified_run_context(
                self.session.cloud,
                environ=self.settings.environ,
                source=choice.github,
                warn=lambda message: self.github.warning(message, title="jitpim provenance"),
            )
        return self._run

    @property
    def mode(self) -> Mode:
        return self.settings.mode

    @property
    def environ(self) -> dict[str, str]:
        return dict(self.settings.environ)

    @property
    def ledger(self) -> AuditStore:
        if self._ledger is None:
            self._ledger = open_store(self.settings.ledger, environ=self.settings.environ)
        return self._ledger

    def options(self, override: LifecycleOptions | None = None) -> LifecycleOptions:
        return self.settings.options(override)

    def say(self, name: str, message: str, lease_id: str | None = None, **data: object) -> None:
        self.timeline.step(Step(self.clock.now(), name, message, lease_id, dict(data)))

    def evidence(self) -> EvidenceWriter:
        """Records the evidence of leases that ended (signed summaries, run file, sinks), reporting as steps."""
        return EvidenceWriter(
            self.ledger, self.run, self.settings.environ, outputs=self.github, say=lambda m: self.say("audit", m)
        )

    def hold_context(self, options: LifecycleOptions) -> HoldContext:
        on_cancel = self._http_sleep.cancel if self._http_sleep is not None else None
        return HoldContext(self.ledger, self.run, self.clock, options, self.timeline, self.evidence(), on_cancel)

    def close(self) -> None:
        self.session.close()
        if self._ledger is not None and self._owns_ledger:
            self._ledger.close()
            self._ledger = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
