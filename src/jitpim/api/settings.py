"""What a jitpim runtime is configured with: explicit values, or the environment's (the same variables the
command line reads, docs/reference/environment.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import ConfigError
from ..lifecycle import LifecycleOptions
from ..model import Mode

__all__ = ["Settings"]


def _frozen(environ: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(environ))


@dataclass(frozen=True)
class Settings:
    """Where jitpim talks to and keeps its records, and how the lifecycle behaves.

    `cloud`: public, usgovernment, china or emulator (None: `JITPIM_CLOUD`, else the emulator when
    `JITPIM_EMULATOR_URL` is set, else public). `ledger`: a SQLite file or a `postgresql://` DSN (None:
    `JITPIM_LEDGER`, else the default file). `environ` is what credentials, CI provenance and the evidence
    file are read from; a snapshot is kept, so later changes to `os.environ` do not leak in.
    `lifecycle.mode` is ignored: `mode` is the one that counts.
    """

    mode: Mode = Mode.DIRECT
    cloud: str | None = None
    emulator_url: str | None = None
    ca_bundle: str | None = None
    ledger: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: _frozen(os.environ))
    lifecycle: LifecycleOptions = field(default_factory=LifecycleOptions)

    def __post_init__(self) -> None:
        object.__setattr__(self, "environ", _frozen(self.environ))
        object.__setattr__(self, "mode", Mode(self.mode))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `JITPIM_MODE`, `JITPIM_CLOUD`, `JITPIM_EMULATOR_URL`, `JITPIM_CA_BUNDLE` and
        `JITPIM_LEDGER` in `environ` (default: `os.environ`)."""
        env = os.environ if environ is None else environ
        try:
            mode = Mode(env.get("JITPIM_MODE") or Mode.DIRECT)
        except ValueError:
            raise ConfigError(
                f"JITPIM_MODE={env.get('JITPIM_MODE')!r} is not a mode", hint="Set JITPIM_MODE to direct or self."
            ) from None
        return cls(
            mode=mode,
            cloud=env.get("JITPIM_CLOUD") or None,
            emulator_url=env.get("JITPIM_EMULATOR_URL") or None,
            ca_bundle=env.get("JITPIM_CA_BUNDLE") or None,
            ledger=env.get("JITPIM_LEDGER") or None,
            environ=env,
        )

    def options(self, override: LifecycleOptions | None = None) -> LifecycleOptions:
        """The lifecycle options to use (`override` when a request brings its own), in this mode."""
        import dataclasses

        return dataclasses.replace(override or self.lifecycle, mode=self.mode)
