"""Target validation: which flag combinations are accepted, and the errors and hints for the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jitpim.errors import ConfigError, UsageError
from jitpim.model import GroupAccess, Target, TargetKind, Ticket, validate_arm_scope

SUB = "1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-payments"
VAULT = f"{RG}/providers/Microsoft.KeyVault/vaults/kv-payments"
GROUP_ID = "a1b2c3d4-0000-4000-8000-000000000001"


def test_from_flags_builds_rbac_target_when_scope_is_an_arm_id() -> None:
    """A full rbac target keeps every field, parsed."""
    target = Target.from_flags(
        kind="rbac",
        role="Key Vault Secrets Officer",
        scope=VAULT + "/",
        duration="30m",
        justification="  rotate db password ",
        ticket="JIRA:OPS-123",
        start="2026-05-01T08:00:00Z",
    )
    assert target.kind is TargetKind.RBAC
    assert target.scope == VAULT
    assert target.duration == timedelta(minutes=30)
    assert target.justification == "rotate db password"
    assert target.ticket == Ticket("JIRA", "OPS-123")
    assert target.start == datetime(2026, 5, 1, 8, tzinfo=UTC)
    assert target.access is None


@pytest.mark.parametrize(
    "scope",
    [
        f"/subscriptions/{SUB}",
        RG,
        VAULT,
        f"{VAULT}/secrets/db-password",
        "/providers/Microsoft.Management/managementGroups/contoso-root",
        f"/SUBSCRIPTIONS/{SUB}/resourcegroups/rg",
    ],
)
def test_validate_arm_scope_accepts_arm_ids_when_well_formed(scope: str) -> None:
    """Subscriptions, resource groups, resources (nested too) and management groups are accepted."""
    assert validate_arm_scope(scope) == scope


@pytest.mark.parametrize(
    "scope",
    [
        "rg-payments",
        "/",
        "/subscriptions/not-a-guid",
        f"/subscriptions/{SUB}/resourceGroups",
        f"{RG}/providers/Microsoft.KeyVault",
        f"{RG}/providers/Microsoft.KeyVault/vaults",
        f"{RG}/vaults/kv",
        f"/subscriptions/{SUB}//resourceGroups/rg",
        f"{RG}?api-version=1",
        "/providers/Microsoft.Management/managementGroups/",
        "/providers/Microsoft.Management/managementGroups/a/b",
    ],
)
def test_from_flags_refuses_azure_scope_when_not_an_arm_id(scope: str) -> None:
    """Malformed ARM scopes raise UsageError with an example in the hint."""
    with pytest.raises(UsageError) as info:
        Target.from_flags(kind="azure-role", role="Reader", scope=scope)
    assert "/subscriptions/" in info.value.hint


def test_from_flags_requires_scope_when_kind_is_rbac() -> None:
    """rbac and azure-role have no default scope."""
    with pytest.raises(UsageError, match="needs --scope"):
        Target.from_flags(kind="rbac", role="Reader")


def test_from_flags_accepts_role_definition_id_when_role_is_an_arm_id() -> None:
    """A full role definition id is a valid role."""
    role = (
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
    )
    assert Target.from_flags(kind="rbac", role=role, scope=RG).role == role
    with pytest.raises(UsageError, match="not a role definition id"):
        Target.from_flags(kind="rbac", role=f"/subscriptions/{SUB}/whatever", scope=RG)


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (None, "/"),
        ("/", "/"),
        (
            "/administrativeUnits/5d7a0f8e-8a5b-4b0a-9f3e-1f2a3b4c5d6e",
            "/administrativeUnits/5d7a0f8e-8a5b-4b0a-9f3e-1f2a3b4c5d6e",
        ),
        (
            "/administrativeunits/5d7a0f8e-8a5b-4b0a-9f3e-1f2a3b4c5d6e",
            "/administrativeUnits/5d7a0f8e-8a5b-4b0a-9f3e-1f2a3b4c5d6e",
        ),
        ("/5d7a0f8e-8a5b-4b0a-9f3e-1f2a3b4c5d6e", "/5d7a0f8e-8a5b-4b0a-9f3e-1f2a3b4c5d6e"),
    ],
)
def test_from_flags_normalises_directory_scope_when_kind_is_entra_role(scope: str | None, expected: str) -> None:
    """entra-role scopes default to the tenant and accept administrative units and object ids."""
    assert Target.from_flags(kind="entra-role", role="Global Reader", scope=scope).scope == expected


@pytest.mark.parametrize("scope", ["/administrativeUnits/x", "tenant", "/x/y", RG])
def test_from_flags_refuses_directory_scope_when_malformed(scope: str) -> None:
    """Anything but /, /administrativeUnits/<id>, /<id> is refused."""
    with pytest.raises(UsageError, match="directory scope"):
        Target.from_flags(kind="entra-role", role="Global Reader", scope=scope)


def test_from_flags_defaults_access_to_member_when_kind_is_pim_group() -> None:
    """pim-group: scope is the group, role mirrors access (member by default)."""
    target = Target.from_flags(kind="pim-group", scope=GROUP_ID)
    assert (target.access, target.role, target.scope) == (GroupAccess.MEMBER, "member", GROUP_ID)
    owner = Target.from_flags(kind="pim-group", scope="kv-operators", access="OWNER")
    assert (owner.access, owner.role) == (GroupAccess.OWNER, "owner")
    assert Target.from_flags(kind="pim-group", scope="kv-operators", role="owner").access is GroupAccess.OWNER


def test_from_flags_refuses_access_when_kind_is_not_pim_group() -> None:
    """--access only means something for PIM for Groups."""
    with pytest.raises(UsageError, match="pim-group targets only") as info:
        Target.from_flags(kind="rbac", role="Reader", scope=RG, access="member")
    assert "--kind pim-group" in info.value.hint


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scope": ""}, "group's object id or display name"),
        ({"scope": "/groups/x"}, "group's object id or display name"),
        ({"scope": GROUP_ID, "access": "admin"}, "unknown group access"),
        ({"scope": GROUP_ID, "role": "Contributor"}, "member or owner"),
        ({"scope": GROUP_ID, "role": "owner", "access": "member"}, "contradicts"),
    ],
)
def test_from_flags_refuses_pim_group_when_combination_is_wrong(kwargs: dict[str, str], match: str) -> None:
    """Each wrong pim-group combination names what to fix."""
    with pytest.raises(UsageError, match=match):
        Target.from_flags(kind="pim-group", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "vm-login"}, "unknown target kind"),
        ({"kind": "entra-role"}, "needs --role"),
        ({"kind": "entra-role", "role": "x", "ticket": "OPS-123"}, "cannot read ticket"),
        ({"kind": "entra-role", "role": "x", "ticket": "JIRA:"}, "cannot read ticket"),
        ({"kind": "entra-role", "role": "x", "duration": "90"}, "cannot read duration"),
        ({"kind": "entra-role", "role": "x", "start": "tomorrow"}, "cannot read start"),
        ({"kind": "entra-role", "role": "x", "start": "2026-05-01T08:00:00"}, "no time zone"),
        ({"kind": "entra-role", "role": "x", "tenant": "not a tenant"}, "neither a tenant id"),
    ],
)
def test_from_flags_refuses_values_when_unreadable(kwargs: dict[str, str], match: str) -> None:
    """Unknown kinds, missing roles, bad tickets, durations, start times and tenants are usage errors."""
    with pytest.raises(UsageError, match=match) as info:
        Target.from_flags(**kwargs)  # type: ignore[arg-type]
    assert info.value.hint
    assert info.value.exit_code == 64


def test_from_flags_raises_config_error_when_origin_names_a_file() -> None:
    """Values read from an access file fail as ConfigError naming the file and entry."""
    with pytest.raises(ConfigError, match=r"jitpim\.toml target 2: unknown target kind") as info:
        Target.from_flags(kind="nope", origin="jitpim.toml target 2")
    assert info.value.exit_code == 71


def test_ticket_parse_keeps_colons_in_number_when_system_is_first() -> None:
    """Only the first colon separates system and number."""
    assert Ticket.parse("ServiceNow:CHG:0031") == Ticket("ServiceNow", "CHG:0031")
    assert str(Ticket("JIRA", "OPS-1")) == "JIRA:OPS-1"


def test_target_json_round_trips_when_read_back() -> None:
    """to_json/from_json preserve every field for every kind."""
    targets = [
        Target.from_flags(kind="rbac", role="Reader", scope=RG, duration="1h", ticket="JIRA:1", justification="j"),
        Target.from_flags(kind="pim-group", scope="kv-operators", access="owner", tenant="contoso.onmicrosoft.com"),
        Target.from_flags(kind="entra-role", role="Global Reader", start=datetime(2030, 1, 1, tzinfo=UTC)),
        Target.from_flags(kind="azure-role", role="Contributor", scope=VAULT),
    ]
    for target in targets:
        assert Target.from_json(target.to_json()) == target


def test_slug_is_stable_and_path_safe_when_targets_differ() -> None:
    """Slugs are deterministic, contain no slash, and differ for different scopes."""
    a = Target.from_flags(kind="rbac", role="Key Vault Secrets Officer", scope=VAULT)
    b = Target.from_flags(kind="rbac", role="Key Vault Secrets Officer", scope=RG)
    assert a.slug == Target.from_flags(kind="rbac", role="Key Vault Secrets Officer", scope=VAULT).slug
    assert a.slug != b.slug
    assert "/" not in a.slug and a.slug.startswith("key-vault-secrets-officer-kv-payments-")
    assert "for 30m" in Target.from_flags(kind="rbac", role="Reader", scope=RG, duration="30m").describe()


_SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"role": 42}, "role must be text, not a number (42)"),
        ({"role": ["Owner"]}, "role must be text, not a list"),
        ({"scope": True}, "scope must be text, not true/false"),
        ({"scope": _SUB + "/resourceGroups/rg\n::warning::pwned"}, "contains control characters (\\n)"),
        ({"role": "Reader\x1b[2K"}, "contains control characters (\\x1b)"),
        ({"justification": "deploy\r\n::add-mask::x"}, "contains control characters (\\r \\n)"),
        ({"tenant": "contoso.com\u202e"}, "contains control characters (\\u202e)"),
        ({"duration": "400d"}, "longer than jitpim grants (365d)"),
        ({"duration": 15}, "has no unit"),
        ({"start": "9999-12-31T00:00:00Z", "duration": "1h"}, "too far ahead"),
        ({"kind": 3}, "kind must be text"),
    ],
)
def test_a_field_of_the_wrong_type_or_with_control_characters_is_refused(
    fields: dict[str, object], needle: str
) -> None:
    """Every text field is text, on one line: the access file's `role: 42` and a scope carrying a newline and a
    workflow command are usage errors, not AttributeErrors or forged CI log lines."""
    values: dict[str, object] = {"kind": "rbac", "role": "Reader", "scope": _SUB, **fields}
    with pytest.raises(UsageError) as info:
        Target.from_flags(**values)  # type: ignore[arg-type]
    assert needle in info.value.message
    assert info.value.hint and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "text", ["JIRA:OPS-123", "ServiceNow:CHG0031337", "GitHub:contoso/payments#42", "CHG:1", "a.b_c-d:X:1"]
)
def test_ticket_grammar_accepts_system_colon_number(text: str) -> None:
    assert str(Ticket.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "JIRA",
        ":123",
        "JIRA:",
        "JIRA :1",
        "JIRA: 1",
        "1JIRA:1",
        "JIRA:OPS 1",
        "JIRA:1\n::warning::x",
        "J:" + "1" * 65,
        "Jira:-1",
        "J" * 33 + ":1",
        "JIRA:1;rm",
    ],
)
def test_ticket_grammar_refuses_anything_else(text: str) -> None:
    with pytest.raises(UsageError) as info:
        Ticket.parse(text)
    assert "SYSTEM:NUMBER" in info.value.hint or "one line" in info.value.hint
    assert "\n" not in str(info.value)


def test_a_lease_recorded_by_an_older_jitpim_still_reads_back() -> None:
    """The reaper and release rebuild targets from the ledger: a ticket outside today's grammar, a multi-line
    justification or a window over a year (all accepted before) must not make a lease unreleasable."""
    data = {
        "kind": "rbac",
        "role": "Reader",
        "scope": _SUB,
        "duration": "P400D",
        "justification": "line one\nline two",
        "ticket": "ServiceNow:CHG 0042",
    }
    target = Target.from_json(data)
    assert target.justification == "line one\\nline two"
    assert str(target.ticket) == "ServiceNow:CHG 0042" and target.duration == timedelta(days=400)
    with pytest.raises(UsageError):
        Target.from_json({**data, "scope": "/subscriptions/not-a-guid"})  # the scope is still checked
