// The action's main step: install jitpim at the action's own version, then `jitpim exec` the `run` script with
// just-in-time access (or `jitpim plan` with dry-run: true). jitpim itself writes the step outputs lease-ids,
// lease-end, exit-code and audit-file and the step summary; this step adds exit-code for every outcome.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const lib = require('./lib.js');

// Flag inputs, passed to jitpim only when set: an empty input never overrides a profile's own value.
const TARGET_FLAGS = [
  ['profile', '--profile'],
  ['access-file', '--access-file'],
  ['kind', '--kind'],
  ['role', '--role'],
  ['scope', '--scope'],
  ['access', '--access'],
  ['tenant', '--tenant'],
  ['duration', '--duration'],
  ['justification', '--justification'],
  ['ticket', '--ticket'],
  ['start', '--start'],
];

function targetArgs() {
  const args = [];
  for (const [input, flag] of TARGET_FLAGS) {
    const value = lib.getInput(input);
    if (value) args.push(flag, value);
  }
  if (!lib.getInput('profile') && !lib.getInput('kind')) {
    throw new lib.UsageFailure('give either `profile` or `kind` (with `role` and `scope`)');
  }
  return args;
}

function commonArgs() {
  const args = [];
  const mode = lib.getInput('mode');
  if (mode) args.push('--mode', mode);
  return args;
}

function lifecycleArgs() {
  const early = lib.getInput('early-release');
  return early ? ['--early-release', early] : [];
}

function cell(text) {
  return String(text === undefined || text === null || text === '' ? '-' : text).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** The plan as a Markdown table for the step summary. */
function planMarkdown(plan) {
  const lines = ['### jitpim plan (dry run: nothing was granted)', ''];
  if (plan.identity) {
    const who = plan.identity.user_principal_name || plan.identity.app_id || plan.identity.object_id;
    lines.push(`As \`${cell(who)}\` (${cell(plan.mode)} mode): **${plan.allowed ? 'allowed' : 'refused'}**`, '');
  }
  lines.push('| target | role | scope | duration | from | to | policy | verdict | reasons |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const item of plan.targets || []) {
    const d = item.decision || {};
    const r = item.resolved || {};
    const p = item.policy || {};
    const rules = [
      p.require_justification && 'justification',
      p.require_ticket && 'ticket',
      p.require_mfa && 'MFA',
      p.require_approval && 'approval',
    ].filter(Boolean);
    const policy = `max ${p.max_duration || 'none'}${rules.length ? ', ' + rules.join(', ') : ''}`;
    const reasons = (d.reasons || []).map((x) => `${x.refuses ? 'refused' : 'notice'}: ${x.message}`).join('; ');
    lines.push(
      `| ${cell((item.target || {}).kind)} | ${cell(r.role_name)} | ${cell(r.scope_name || r.scope)} | ` +
        `${cell(d.duration)} | ${cell(d.start)} | ${cell(d.end)} | ${cell(policy)} | ` +
        `${d.allowed ? 'allowed' : '**refused**'} | ${cell(reasons)} |`,
    );
  }
  return lines.join('\n') + '\n';
}

async function dryRun(jitpim) {
  const args = ['plan', ...targetArgs(), ...commonArgs(), ...lifecycleArgs(), '--output', 'json'];
  const { code, stdout } = await lib.runJitpim(jitpim, args, { capture: true });
  let plan = null;
  try {
    plan = JSON.parse(stdout);
  } catch {
    plan = null;
  }
  if (plan && Array.isArray(plan.targets)) {
    lib.addSummary(planMarkdown(plan));
    lib.info(stdout.trim());
  } else if (plan && plan.error) {
    lib.addSummary(`### jitpim plan failed\n\n${cell(plan.error.message || plan.error)}\n`);
    lib.info(stdout.trim());
  } else if (stdout.trim()) {
    lib.addSummary('### jitpim plan\n\n```\n' + stdout.trim() + '\n```\n');
    lib.info(stdout.trim());
  }
  return code;
}

async function execute(jitpim, script) {
  const dir = process.env.RUNNER_TEMP || os.tmpdir();
  const file = path.join(dir, `jitpim-run-${crypto.randomUUID()}.sh`);
  fs.writeFileSync(file, script.endsWith('\n') ? script : `${script}\n`, { mode: 0o700 });
  const key = lib.runKey();
  if (key) lib.saveState('run-key', key);
  lib.saveState('exec', 'true');
  try {
    const args = [
      'exec', ...targetArgs(), ...commonArgs(), ...lifecycleArgs(),
      '--', 'bash', '--noprofile', '--norc', '-eo', 'pipefail', file,
    ];
    const { code } = await lib.runJitpim(jitpim, args);
    return code;
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** The last value jitpim wrote for a step output (`name=value` lines of $GITHUB_OUTPUT). */
function writtenOutput(name) {
  const file = process.env.GITHUB_OUTPUT;
  if (!file || !fs.existsSync(file)) return '';
  let value = '';
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    if (line.startsWith(`${name}=`)) value = line.slice(name.length + 1);
  }
  return value;
}

/** Beside the run's evidence file, a self-contained HTML report of it (`jitpim audit report --html`), named by
 * the `audit-report` output so a workflow uploads both. A report that cannot be written never fails the step. */
async function htmlReport(jitpim) {
  const evidence = writtenOutput('audit-file');
  if (!evidence || !fs.existsSync(evidence)) return;
  const html = evidence.replace(/\.jsonl$/, '') + '.html';
  try {
    const { code } = await lib.runJitpim(jitpim, ['audit', 'report', evidence, '--html', html], { capture: true });
    if (code === 0) lib.setOutput('audit-report', html);
  } catch (err) {
    lib.info(`no HTML report: ${err.message || err}`);
  }
}

async function main() {
  const dry = lib.getBooleanInput('dry-run');
  const script = process.env.INPUT_RUN || '';
  if (!dry && !script.trim()) {
    throw new lib.UsageFailure('the `run` input is required (the command to run with the access), unless dry-run is true');
  }
  targetArgs(); // refuse bad inputs before installing anything
  // The runner masks these already; masking again costs nothing and covers self-hosted set-ups that export them.
  for (const name of ['ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'AZURE_CLIENT_SECRET', 'JITPIM_SIGNING_KEY']) {
    if (process.env[name]) lib.mask(process.env[name]);
  }
  const jitpim = lib.installJitpim(lib.getInput('python') || 'python3');
  lib.saveState('jitpim', jitpim);
  const code = dry ? await dryRun(jitpim) : await execute(jitpim, script);
  lib.setOutput('exit-code', String(code));
  if (!dry) await htmlReport(jitpim);
  if (code !== 0) {
    lib.error(
      dry
        ? `jitpim plan refused or failed (exit code ${code}, see docs/reference/exit-codes.md)`
        : `the command or jitpim failed (exit code ${code}, see docs/reference/exit-codes.md)`,
      'jitpim',
    );
  }
  process.exitCode = code;
}

main().catch((err) => {
  const usage = err instanceof lib.UsageFailure;
  lib.error(usage ? `${err.message} (see the action's inputs in action.yml)` : String(err.message || err), 'jitpim');
  lib.setOutput('exit-code', usage ? '64' : '71');
  process.exitCode = usage ? 64 : 71;
});
