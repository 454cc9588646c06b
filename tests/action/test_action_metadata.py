"""The action's metadata: a JavaScript action with a post step that always runs, inputs that never override an
access-file profile unless set, every input used by the code, and outputs as documented."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
MAIN = (ROOT / "action" / "main.js").read_text()
LIB = (ROOT / "action" / "lib.js").read_text()


def test_a_node_action_whose_post_step_always_runs() -> None:
    runs = ACTION["runs"]
    assert runs["using"] == "node20"
    assert (ROOT / runs["main"]).is_file()
    assert (ROOT / runs["post"]).is_file()
    assert runs["post-if"] == "always()"


def test_no_dependency_needs_installing() -> None:
    # Plain Node.js: only node: built-ins and the action's own files are required.
    for script in (ROOT / "action").glob("*.js"):
        for module in re.findall(r"require\('([^']+)'\)", script.read_text()):
            assert module.startswith(("node:", "./")), (script.name, module)
    assert not (ROOT / "action" / "package.json").exists()


def test_duration_and_justification_do_not_override_a_profile_by_default() -> None:
    inputs = ACTION["inputs"]
    for name in ("duration", "justification", "ticket", "start", "kind", "role", "scope"):
        assert "default" not in inputs[name], name
        assert inputs[name].get("required") is False, name


def test_every_input_is_read_by_the_action() -> None:
    read = set(re.findall(r"getInput\('([\w-]+)'\)", MAIN + LIB))
    read |= set(re.findall(r"\['([\w-]+)', '--[\w-]+'\]", MAIN))
    read |= {"run"} if "INPUT_RUN" in MAIN else set()
    read |= {"dry-run"} if "getBooleanInput('dry-run')" in MAIN else set()
    assert read == set(ACTION["inputs"])


def test_outputs_are_the_documented_ones() -> None:
    assert set(ACTION["outputs"]) == {"lease-ids", "lease-end", "exit-code", "audit-file", "audit-report"}
