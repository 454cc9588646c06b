"""Granting on behalf of another principal (the broker): the caller's identity asks, `principal_id` receives.

`OnBehalfProvider` wraps a provider so that the resolved principal is the one named, and so that "effective"
means the grant is in force at the source, which is what the caller can observe with its own identity (it
cannot use the other principal's access to try it). Every other step is the wrapped provider's own,
delegated by name, so steps added to providers later pass through unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, cast

from ..errors import UsageError
from ..model import Target, TargetKind, is_guid
from ..providers import Grant, Provider, ProviderContext, ResolvedTarget, get_provider

__all__ = ["OnBehalfProvider", "on_behalf_of"]


class OnBehalfProvider:
    def __init__(self, inner: Provider, principal_id: str) -> None:
        self.inner = inner
        self.principal_id = principal_id
        self.kind = inner.kind

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def resolve(self, target: Target, ctx: ProviderContext) -> ResolvedTarget:
        return dataclasses.replace(self.inner.resolve(target, ctx), principal_id=self.principal_id)

    def probe(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> bool:
        return self.inner.find_existing(resolved, ctx) is not None


def on_behalf_of(principal_id: str) -> Callable[[TargetKind], Provider]:
    """A `provider_for` (see `make_plan`) whose providers grant to `principal_id` (an object id)."""
    if not is_guid(principal_id):
        raise UsageError(f"on_behalf_of {principal_id!r} is not an object id", hint="Give the principal's GUID.")

    def provider_for(kind: TargetKind) -> Provider:
        return cast("Provider", OnBehalfProvider(get_provider(kind), principal_id))

    return provider_for
