"""Granting on behalf of another principal resolves to that principal and refuses anything but an object id."""

from __future__ import annotations

import pytest

from jitpim.errors import UsageError
from jitpim.lifecycle.on_behalf import OnBehalfProvider, on_behalf_of
from jitpim.model import TargetKind


def test_on_behalf_of_wraps_every_kind_and_checks_the_id() -> None:
    provider_for = on_behalf_of("2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e")
    for kind in TargetKind:
        provider = provider_for(kind)
        assert isinstance(provider, OnBehalfProvider)
        assert provider.kind is kind
        assert provider.principal_id == "2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e"
        assert callable(provider.release) and callable(provider.marked)  # delegated steps pass through
    with pytest.raises(UsageError, match="not an object id"):
        on_behalf_of("ci-app")
