"""Target kinds, one provider per module, looked up by kind (`get_provider`).

Providers are imported on first use so that a command touching one kind loads only its module.
`register_provider` lets a library user add or replace a kind.
"""

from __future__ import annotations

from importlib import import_module

from ..errors import ConfigError
from ..model import TargetKind
from ._arm import visible_subscriptions
from ._graph import directory_audits
from .base import (
    Grant,
    GrantStatus,
    Provider,
    ProviderContext,
    ReleaseOutcome,
    ReleaseResult,
    ResolvedTarget,
    SourceGrant,
    grant_markers,
)
from .marker import GrantMarker, parse_markers

__all__ = [
    "Grant",
    "GrantMarker",
    "GrantStatus",
    "Provider",
    "ProviderContext",
    "ReleaseOutcome",
    "ReleaseResult",
    "ResolvedTarget",
    "SourceGrant",
    "directory_audits",
    "get_provider",
    "grant_markers",
    "parse_markers",
    "register_provider",
    "visible_subscriptions",
]

_MODULES: dict[TargetKind, tuple[str, str]] = {
    TargetKind.ENTRA_ROLE: ("jitpim.providers.graph_directory_role", "GraphDirectoryRoleProvider"),
    TargetKind.PIM_GROUP: ("jitpim.providers.graph_pim_group", "GraphPimGroupProvider"),
    TargetKind.AZURE_ROLE: ("jitpim.providers.arm_pim_role", "ArmPimRoleProvider"),
    TargetKind.RBAC: ("jitpim.providers.arm_role_assignment", "ArmRoleAssignmentProvider"),
}
_INSTANCES: dict[TargetKind, Provider] = {}


def register_provider(provider: Provider) -> None:
    _INSTANCES[provider.kind] = provider


def get_provider(kind: TargetKind | str) -> Provider:
    try:
        key = TargetKind(kind)
    except ValueError:
        raise ConfigError(
            f"unknown target kind {kind!r}", hint="Use one of: " + ", ".join(k.value for k in TargetKind)
        ) from None
    if key not in _INSTANCES:
        module_name, class_name = _MODULES[key]
        provider: Provider = getattr(import_module(module_name), class_name)()
        _INSTANCES[key] = provider
    return _INSTANCES[key]
