"""Runs a job of a workflow file the way the GitHub Actions runner does, against the emulator: the job's
environment and contexts, `if:` conditions, `${{ }}` expressions, the file commands (GITHUB_OUTPUT, GITHUB_ENV,
GITHUB_PATH, GITHUB_STATE, GITHUB_STEP_SUMMARY), `::add-mask::`, the OIDC request endpoint only with
`permissions: id-token: write`, `run:` steps in bash, JavaScript actions (`uses:` this repository's action.yml)
with their post steps run at the end of the job, and cancellation (SIGINT, then SIGTERM, then a kill, to the
step's process, then the remaining `always()` steps and the post steps).

Third-party actions are stood in for by what they do to the job: `actions/checkout` copies the test repository
into the workspace, `actions/setup-python` puts the test interpreter on PATH, `actions/upload-artifact` copies
the files into the run's artifacts folder.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jitpim.testing import github_job_environ

from .workflow_expressions import interpolate, status_condition, to_string

__all__ = ["Cancel", "JobResult", "StepResult", "WorkflowJob", "load_workflow", "matrix_combinations"]

ROOT = Path(__file__).resolve().parents[2]
JITPIM_ACTION = re.compile(r"^[\w.-]+/jitpim@[0-9a-f]{40}$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load_workflow(path: Path) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True; the runner reads it as the string.
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return dict(data)


def matrix_combinations(job: Mapping[str, Any], contexts: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The job's matrix combinations; `${{ }}` in the matrix (e.g. `fromJSON(vars.X)`) is evaluated with
    `contexts` (github, vars, inputs)."""
    matrix = interpolate((job.get("strategy") or {}).get("matrix"), contexts or {})
    if not matrix:
        return [{}]
    matrix = {k: interpolate(v, contexts or {}) for k, v in matrix.items()}
    axes = {k: v for k, v in matrix.items() if k not in ("include", "exclude")}
    combos = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())] if axes else []
    for extra in matrix.get("include") or []:
        matched = False
        for combo in combos:
            if all(combo.get(k) == v for k, v in extra.items() if k in axes):
                combo.update({k: v for k, v in extra.items() if k not in axes})
                matched = True
        if not matched:
            combos.append(dict(extra))
    return combos


@dataclass
class Cancel:
    """Cancel the job during step `step` (its id) once `when()` is true: SIGINT to the step's process, then
    SIGTERM after `term_after` s, then SIGKILL to its process group after `kill_after` s more (the runner's
    7.5 s and 2.5 s by default)."""

    step: str
    when: Callable[[], bool]
    term_after: float = 7.5
    kill_after: float = 2.5
    signals_sent: list[str] = field(default_factory=list)


@dataclass
class StepResult:
    id: str
    name: str
    outcome: str
    outputs: dict[str, str]
    returncode: int | None
    log: str
    post: bool = False


@dataclass
class JobResult:
    status: str
    steps: list[StepResult]
    summary: str
    artifacts: Path
    log: str
    masks: list[str]
    env: dict[str, str]
    skipped: bool = False
    secrets: dict[str, str] = field(default_factory=dict)

    def step(self, step_id: str, *, post: bool = False) -> StepResult:
        return next(s for s in self.steps if s.id == step_id and s.post == post)


def _parse_key_values(text: str) -> dict[str, str]:
    """The runner's file-command format: `name=value` lines and `name<<DELIMITER` heredocs."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ValueError(f"unterminated heredoc for {name}")
            i += 1
            out[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            out[name] = value
    return out


def _signal_name(sig: int) -> str:
    return signal.Signals(sig).name


class WorkflowJob:
    """One job of a workflow, run on a fresh simulated runner (its own HOME, temp dir and workspace)."""

    def __init__(
        self,
        workflow: Path,
        job_id: str,
        *,
        info: dict[str, Any],
        control: Callable[..., Any],
        workdir: Path,
        repository: Path,
        tool_cache: Path,
        event: str = "workflow_dispatch",
        inputs: Mapping[str, Any] | None = None,
        variables: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        matrix: Mapping[str, Any] | None = None,
        run_id: str = "9100200300",
        pr_number: int = 17,
        runner_env: Mapping[str, str] | None = None,
        cancel: Cancel | None = None,
        step_timeout: float = 240.0,
    ) -> None:
        self.path = workflow
        self.workflow = load_workflow(workflow)
        self.job_id = job_id
        self.job: dict[str, Any] = self.workflow["jobs"][job_id]
        self.info = info
        self.control = control
        self.workdir = workdir
        self.repository = repository
        self.tool_cache = tool_cache
        self.event = event
        self.inputs = self._typed_inputs(inputs or {})
        self.vars = dict(variables or {})
        self.secrets = dict(secrets or {})
        self.matrix = dict(matrix or {})
        self.run_id = run_id
        self.pr_number = pr_number
        self.runner_env = dict(runner_env or {})
        self.cancel = cancel
        self.step_timeout = step_timeout
        # The runner masks every secret it hands out.
        self.masks: list[str] = [v for v in self.secrets.values() if v]
        self.log_parts: list[str] = []
        self.summary_parts: list[str] = []
        self.posts: list[tuple[StepResult, dict[str, Any], dict[str, str], str]] = []
        # What GITHUB_ENV and GITHUB_PATH (and setup-python) added, for the steps after the one that added it.
        self.dynamic: dict[str, str] = {}

    # -- contexts ----------------------------------------------------------------------------------------

    def _typed_inputs(self, given: Mapping[str, Any]) -> dict[str, Any]:
        on = self.workflow.get("on") or {}
        declared = {}
        if isinstance(on, dict):
            trigger = on.get("workflow_dispatch") or on.get("workflow_call") or {}
            declared = (trigger or {}).get("inputs") or {}
        out: dict[str, Any] = {}
        for name, spec in declared.items():
            value = given.get(name, (spec or {}).get("default"))
            if (spec or {}).get("required") and value in (None, "") and self.event == "workflow_dispatch":
                raise ValueError(f"input {name} is required")
            if (spec or {}).get("type") == "boolean":
                value = value in (True, "true")
            elif (spec or {}).get("type") == "choice" and value not in (None, "") and value not in spec["options"]:
                raise ValueError(f"input {name}: {value!r} is not one of {spec['options']}")
            out[name] = value if value is not None else ""
        unknown = set(given) - set(declared)
        if unknown:
            raise ValueError(f"inputs not declared by the workflow: {sorted(unknown)}")
        return out if self.event == "workflow_dispatch" else {}

    def _permissions(self) -> dict[str, str]:
        perms = self.job.get("permissions", self.workflow.get("permissions"))
        if isinstance(perms, str):
            return {"id-token": "write"} if perms == "write-all" else {}
        return dict(perms or {})

    def _environment_name(self, contexts: Mapping[str, Any]) -> str | None:
        env = self.job.get("environment")
        if isinstance(env, dict):
            env = env.get("name")
        value = interpolate(env, contexts) if env else None
        return to_string(value) or None

    # -- running -----------------------------------------------------------------------------------------

    def run(self) -> JobResult:
        home = self.workdir / "home"
        temp = self.workdir / "runner-temp"
        workspace = self.workdir / "workspace"
        artifacts = self.workdir / "artifacts"
        for d in (home, temp, workspace, artifacts):
            d.mkdir(parents=True, exist_ok=True)
        pr = self.pr_number if self.event == "pull_request" else None
        base = github_job_environ(self.info, workdir=self.workdir / "github", run_id=self.run_id, pr_number=pr)
        ref = base["GITHUB_REF"]
        event_path = self.workdir / "event.json"
        event_payload: dict[str, Any] = {"inputs": self.inputs} if self.event == "workflow_dispatch" else {}
        if pr:
            event_payload["pull_request"] = {"number": pr}
        event_path.write_text(json.dumps(event_payload))
        github = {
            "event_name": self.event,
            "ref": ref,
            "ref_name": ref.removeprefix("refs/heads/"),
            "sha": base["GITHUB_SHA"],
            "repository": base["GITHUB_REPOSITORY"],
            "repository_owner": base["GITHUB_REPOSITORY_OWNER"],
            "run_id": self.run_id,
            "run_number": base["GITHUB_RUN_NUMBER"],
            "run_attempt": "1",
            "workflow": self.workflow.get("name", self.path.name),
            "job": self.job_id,
            "actor": base["GITHUB_ACTOR"],
            "server_url": base["GITHUB_SERVER_URL"],
            "workspace": str(workspace),
            "event": event_payload,
        }
        contexts: dict[str, Any] = {
            "github": github,
            "inputs": self.inputs,
            "vars": self.vars,
            "secrets": self.secrets,
            "matrix": self.matrix,
            "strategy": {"job-index": 0, "job-total": 1},
            "runner": {"os": "Linux", "arch": "X64", "temp": str(temp), "tool_cache": str(self.tool_cache)},
            "job": {"status": "success"},
            "steps": {},
            "env": {},
            "needs": {},
        }
        if not status_condition(self.job.get("if"), contexts, status="success"):
            return JobResult("skipped", [], "", artifacts, "", [], {}, skipped=True)
        environment = self._environment_name(contexts)

        # What the runner gives every step; AZURE_* come only from the workflow's own `env:`.
        env: dict[str, str] = {
            k: v for k, v in base.items() if k.startswith(("GITHUB_", "ACTIONS_")) or k in ("CI", "PATH")
        }
        env.update(
            {
                "HOME": str(home),
                "RUNNER_TEMP": str(temp),
                "RUNNER_TOOL_CACHE": str(self.tool_cache),
                "RUNNER_OS": "Linux",
                "RUNNER_ARCH": "X64",
                "RUNNER_ENVIRONMENT": "github-hosted",
                "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_EVENT_PATH": str(event_path),
                "GITHUB_WORKFLOW": to_string(github["workflow"]),
                "GITHUB_JOB": self.job_id,
                "GITHUB_EVENT_NAME": self.event,
                "GITHUB_REF_NAME": github["ref_name"],
                "PATH": os.pathsep.join([str(Path(shutil.which("node") or "/usr/bin/node").parent), env["PATH"]]),
                "LANG": "C.UTF-8",
            }
        )
        env.update(self.runner_env)
        if self._permissions().get("id-token") != "write":
            env.pop("ACTIONS_ID_TOKEN_REQUEST_URL", None)
            env.pop("ACTIONS_ID_TOKEN_REQUEST_TOKEN", None)
        # The ID token GitHub would issue to this job: its event, ref, environment and workflow.
        claims = {
            "event_name": self.event,
            "ref": ref,
            "workflow": github["workflow"],
            "job_workflow_ref": f"contoso/payments/.github/workflows/{self.path.name}@{ref}",
            "workflow_ref": f"contoso/payments/.github/workflows/{self.path.name}@{ref}",
            "run_id": self.run_id,
            "run_attempt": "1",
            "environment": environment,
        }
        self.control("github/claims", {"replace": True, **self._scenario_claims(), **claims})

        defaults = self.job.get("defaults", self.workflow.get("defaults")) or {}
        workflow_env = {k: to_string(interpolate(v, contexts)) for k, v in (self.workflow.get("env") or {}).items()}
        contexts["env"] = dict(workflow_env)
        job_env = {k: to_string(interpolate(v, contexts)) for k, v in (self.job.get("env") or {}).items()}
        env_context: dict[str, str] = {**workflow_env, **job_env}
        status = "success"
        results: list[StepResult] = []
        for index, step in enumerate(self.job.get("steps") or []):
            step_id = step.get("id") or f"__{index}"
            contexts["env"] = dict(env_context)
            contexts["job"] = {"status": status}
            name = to_string(step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0])
            if not status_condition(step.get("if"), contexts, status=status):
                results.append(StepResult(step_id, name, "skipped", {}, None, ""))
                contexts["steps"][step_id] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
                continue
            step_env_values = {
                k: to_string(interpolate(v, contexts, status=status)) for k, v in (step.get("env") or {}).items()
            }
            step_env = {**env, **env_context, **self.dynamic, **step_env_values}
            result, cancelled = self._run_step(
                step, step_id, name, step_env, contexts, defaults, temp, workspace, status
            )
            results.append(result)
            continue_on_error = bool(interpolate(step.get("continue-on-error", False), contexts))
            conclusion = "success" if result.outcome == "failure" and continue_on_error else result.outcome
            contexts["steps"][step_id] = {
                "outputs": result.outputs,
                "outcome": result.outcome,
                "conclusion": conclusion,
            }
            # GITHUB_ENV and GITHUB_PATH apply to the steps after this one.
            if cancelled:
                status = "cancelled"
            elif conclusion == "failure" and status == "success":
                status = "failure"
        for result, action, state, post_if in reversed(self.posts):
            contexts["job"] = {"status": status}
            if not status_condition(post_if, contexts, status=status):
                continue
            post_env = {**env, **env_context, **self.dynamic, **{f"STATE_{k}": v for k, v in state.items()}}
            post_env.update(self._input_env(action, result))
            post_result = self._node(
                action["runs"]["post"], result.id, f"Post {result.name}", post_env, temp, workspace, post=True
            )
            results.append(post_result)
            if post_result.outcome == "failure" and status == "success":
                status = "failure"
        return JobResult(
            status=status,
            steps=results,
            summary="".join(self.summary_parts),
            artifacts=artifacts,
            log="".join(self.log_parts),
            masks=list(self.masks),
            env=env,
        )

    def _scenario_claims(self) -> dict[str, Any]:
        import yaml as _yaml

        from jitpim.emulator import data as scenario_data

        scenario = _yaml.safe_load((Path(scenario_data.__file__).parent / "default_scenario.yaml").read_text())
        return dict(scenario["github"]["claims"])

    # -- one step ------------------------------------------------------------------------------------------

    def _step_files(self, temp: Path) -> dict[str, Path]:
        files = {}
        for variable in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE", "GITHUB_STEP_SUMMARY"):
            path = temp / "_runner_file_commands" / f"{variable.lower()}_{uuid.uuid4()}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            files[variable] = path
        return files

    def _run_step(
        self,
        step: Mapping[str, Any],
        step_id: str,
        name: str,
        env: dict[str, str],
        contexts: dict[str, Any],
        defaults: Mapping[str, Any],
        temp: Path,
        workspace: Path,
        status: str,
    ) -> tuple[StepResult, bool]:
        if "run" in step:
            script = to_string(interpolate(step["run"], contexts, status=status))
            shell = step.get("shell") or (defaults.get("run") or {}).get("shell") or "bash"
            if shell != "bash":
                raise ValueError(f"the harness runs bash steps only, not {shell}")
            cwd = workspace / to_string(
                step.get("working-directory") or (defaults.get("run") or {}).get("working-directory") or "."
            )
            file = temp / f"{uuid.uuid4()}.sh"
            file.write_text(script + "\n")
            argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(file)]
            return self._process(argv, step_id, name, env, cwd, temp)
        uses = to_string(step.get("uses"))
        with_values = {
            k: to_string(interpolate(v, contexts, status=status)) for k, v in (step.get("with") or {}).items()
        }
        if uses == "./" or JITPIM_ACTION.match(uses):
            action = yaml.safe_load((ROOT / "action.yml").read_text())
            if action["runs"]["using"] not in ("node20", "node24"):
                raise ValueError("the harness runs JavaScript actions only")
            input_env = self._input_env(action, None, with_values)
            unknown = set(with_values) - set(action["inputs"])
            if unknown:
                raise ValueError(
                    f"{name}: unexpected inputs {sorted(unknown)} (the runner warns; the action ignores them)"
                )
            result, cancelled = self._node_step(action, step_id, name, {**env, **input_env}, temp, workspace)
            return result, cancelled
        if not PINNED.match(uses):
            raise ValueError(f"{uses} is not pinned to a full commit SHA")
        action_name = uses.split("@", 1)[0]
        log: list[str] = []
        outputs: dict[str, str] = {}
        outcome = "success"
        if action_name == "actions/checkout":
            if with_values.get("persist-credentials") != "false":
                raise ValueError("actions/checkout must set persist-credentials: false")
            shutil.copytree(self.repository, workspace, dirs_exist_ok=True)
            log.append(f"checked out {self.repository.name} into {workspace}\n")
        elif action_name == "actions/setup-python":
            bin_dir = str(Path(sys.executable).parent)
            self.dynamic["PATH"] = os.pathsep.join([bin_dir, self.dynamic.get("PATH", env["PATH"])])
            outputs["python-version"] = ".".join(map(str, sys.version_info[:3]))
            log.append(f"python {outputs['python-version']} at {bin_dir}\n")
        elif action_name == "actions/upload-artifact":
            target = (self.workdir / "artifacts") / with_values["name"]
            found: list[tuple[Path, Path]] = []  # (file, its path inside the artifact)
            for pattern in [p.strip() for p in with_values.get("path", "").splitlines() if p.strip()]:
                full = pattern if os.path.isabs(pattern) else str(workspace / pattern)
                for match in map(Path, glob.glob(full, recursive=True)):
                    if match.is_file():
                        found.append((match, Path(match.name)))
                    elif match.is_dir():  # a folder uploads its files, below it
                        found += [(f, f.relative_to(match)) for f in sorted(match.rglob("*")) if f.is_file()]
            if not found and with_values.get("if-no-files-found", "warn") == "error":
                outcome = "failure"
                log.append(f"no files found at {with_values.get('path')}\n")
            for source, inside in found:
                (target / inside).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / inside)
            outputs["artifact-id"] = str(len(found))
        else:
            raise ValueError(f"the harness has no stand-in for {action_name}")
        self.log_parts.extend(log)
        return StepResult(step_id, name, outcome, outputs, 0 if outcome == "success" else 1, "".join(log)), False

    def _input_env(
        self, action: Mapping[str, Any], result: StepResult | None, with_values: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        if result is not None:
            return dict(getattr(result, "_inputs", {}))
        values: dict[str, str] = {}
        for name, spec in (action.get("inputs") or {}).items():
            value = (with_values or {}).get(name)
            if value is None:
                value = to_string((spec or {}).get("default", ""))
            values[f"INPUT_{name.replace(' ', '_').upper()}"] = value
        return values

    def _node_step(
        self, action: Mapping[str, Any], step_id: str, name: str, env: dict[str, str], temp: Path, workspace: Path
    ) -> tuple[StepResult, bool]:
        state_file = self._step_files(temp)["GITHUB_STATE"]
        env = {**env, "GITHUB_STATE": str(state_file), "GITHUB_ACTION_PATH": str(ROOT)}
        result, cancelled = self._process(
            ["node", str(ROOT / action["runs"]["main"])], step_id, name, env, workspace, temp
        )
        state = _parse_key_values(state_file.read_text())
        result._inputs = {k: v for k, v in env.items() if k.startswith("INPUT_")}  # type: ignore[attr-defined]
        if action["runs"].get("post"):
            self.posts.append((result, dict(action), state, action["runs"].get("post-if", "always()")))
        return result, cancelled

    def _node(
        self, script: str, step_id: str, name: str, env: dict[str, str], temp: Path, workspace: Path, *, post: bool
    ) -> StepResult:
        result, _ = self._process(["node", str(ROOT / script)], step_id, name, env, workspace, temp, post=post)
        return result

    def _process(
        self,
        argv: list[str],
        step_id: str,
        name: str,
        env: dict[str, str],
        cwd: Path,
        temp: Path,
        *,
        post: bool = False,
    ) -> tuple[StepResult, bool]:
        files = self._step_files(temp)
        env = {**env, **{k: str(v) for k, v in files.items() if k != "GITHUB_STATE" or "GITHUB_STATE" not in env}}
        log_path = temp / f"log-{uuid.uuid4()}.txt"
        cancelled = False
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            deadline = time.monotonic() + self.step_timeout
            cancel = self.cancel if (self.cancel is not None and self.cancel.step == step_id and not post) else None
            while process.poll() is None:
                if time.monotonic() > deadline:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    raise TimeoutError(f"step {name} ran over {self.step_timeout} s")
                if cancel is not None and not cancelled and cancel.when():
                    cancelled = True
                    self._cancel(process, cancel)
                    break
                time.sleep(0.05)
            process.wait()
            # The runner ends what a step left running (orphans) before the next step.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        raw = log_path.read_text(errors="replace")
        # The runner consumes `::add-mask::` lines (they never show in the log) and hides their values.
        kept = []
        for line in raw.splitlines(keepends=True):
            if line.startswith("::add-mask::"):
                self.masks.append(line.removeprefix("::add-mask::").rstrip("\r\n"))
            else:
                kept.append(line)
        text = "".join(kept)
        self.log_parts.append(f"##[step] {name}\n{text}")
        outputs = _parse_key_values(files["GITHUB_OUTPUT"].read_text())
        self.summary_parts.append(files["GITHUB_STEP_SUMMARY"].read_text())
        for key, value in _parse_key_values(files["GITHUB_ENV"].read_text()).items():
            self.dynamic[key] = value
        added = [p for p in files["GITHUB_PATH"].read_text().splitlines() if p.strip()]
        if added:
            self.dynamic["PATH"] = os.pathsep.join([*reversed(added), self.dynamic.get("PATH", env["PATH"])])
        outcome = "cancelled" if cancelled else ("success" if process.returncode == 0 else "failure")
        return StepResult(step_id, name, outcome, outputs, process.returncode, text, post=post), cancelled

    @staticmethod
    def _cancel(process: subprocess.Popen[bytes], cancel: Cancel) -> None:
        # The runner signals the step's own process; at the end it kills what is left of the tree.
        process.send_signal(signal.SIGINT)
        cancel.signals_sent.append("SIGINT")
        try:
            process.wait(timeout=cancel.term_after)
            return
        except subprocess.TimeoutExpired:
            pass
        process.send_signal(signal.SIGTERM)
        cancel.signals_sent.append("SIGTERM")
        try:
            process.wait(timeout=cancel.kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            cancel.signals_sent.append("SIGKILL")
            process.wait()
