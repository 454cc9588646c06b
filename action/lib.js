// Shared by the action's main and post steps: inputs, the runner's file commands, installing jitpim at the
// action's own version, and running the jitpim CLI with signals forwarded. Plain Node.js 20, no dependencies:
// the action runs from its checkout without `npm install`.
'use strict';

const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const WINDOWS = process.platform === 'win32';

// -- inputs and workflow commands ---------------------------------------------------------------------------

/** An input as the runner passes it: INPUT_<NAME> with spaces as underscores, upper-cased, trimmed. */
function getInput(name) {
  const value = process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '';
  return value.trim();
}

function getBooleanInput(name) {
  const value = getInput(name).toLowerCase();
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw new UsageFailure(`input ${name} must be true or false, not ${JSON.stringify(getInput(name))}`);
}

function escapeData(text) {
  return String(text).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text) {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function command(name, message, properties) {
  const rendered = Object.entries(properties || {})
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${k}=${escapeProperty(v)}`)
    .join(',');
  process.stdout.write(`::${name}${rendered ? ' ' + rendered : ''}::${escapeData(message)}${os.EOL}`);
}

/** Ask the runner to hide each non-blank line of `value` in the log. */
function mask(value) {
  for (const line of String(value || '').split(/\r?\n|\r/)) {
    if (line.trim()) command('add-mask', line);
  }
}

function info(message) {
  process.stdout.write(`${message}${os.EOL}`);
}

function error(message, title) {
  command('error', message, { title });
}

function warning(message, title) {
  command('warning', message, { title });
}

/** Append `name=value` (or a heredoc for multi-line values) to the file named by a runner variable. */
function appendKeyValue(variable, name, value) {
  const file = process.env[variable];
  if (!file) return false;
  const text = String(value);
  let entry;
  if (/[\r\n]/.test(text)) {
    let delimiter;
    do {
      delimiter = `ghadelimiter_${crypto.randomUUID()}`;
    } while (text.includes(delimiter));
    entry = `${name}<<${delimiter}${os.EOL}${text}${os.EOL}${delimiter}${os.EOL}`;
  } else {
    entry = `${name}=${text}${os.EOL}`;
  }
  fs.appendFileSync(file, entry, { encoding: 'utf8' });
  return true;
}

function setOutput(name, value) {
  return appendKeyValue('GITHUB_OUTPUT', name, value);
}

/** State for this action's post step; it reads it back as STATE_<name>. */
function saveState(name, value) {
  return appendKeyValue('GITHUB_STATE', name, value);
}

function getState(name) {
  return process.env[`STATE_${name}`] || '';
}

function addSummary(markdown) {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!file) return false;
  fs.appendFileSync(file, markdown.endsWith('\n') ? markdown : `${markdown}\n`, { encoding: 'utf8' });
  return true;
}

class UsageFailure extends Error {}

// -- installing jitpim at the action's own version ------------------------------------------------------------

function actionVersion() {
  const text = fs.readFileSync(path.join(ROOT, 'pyproject.toml'), 'utf8');
  const match = /^version\s*=\s*"([^"]+)"/m.exec(text);
  if (!match) throw new Error(`no version in ${path.join(ROOT, 'pyproject.toml')}`);
  return match[1];
}

function listFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '__pycache__') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/**
 * The digest of exactly what pip installs (pyproject.toml and the package's files): an installed environment
 * is reused only for the same code, never for another checkout that merely shares the version number.
 */
function sourceDigest() {
  const hash = crypto.createHash('sha256');
  const files = [path.join(ROOT, 'pyproject.toml'), ...listFiles(path.join(ROOT, 'src', 'jitpim'))];
  for (const file of files.map((f) => path.relative(ROOT, f).split(path.sep).join('/')).sort()) {
    hash.update(`${file}\0`);
    hash.update(fs.readFileSync(path.join(ROOT, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

function venvBin(venv, name) {
  return WINDOWS ? path.join(venv, 'Scripts', `${name}.exe`) : path.join(venv, 'bin', name);
}

function toolCache() {
  return process.env.RUNNER_TOOL_CACHE || process.env.RUNNER_TEMP || os.tmpdir();
}

function runSync(file, args, options) {
  const result = childProcess.spawnSync(file, args, { stdio: 'inherit', ...options });
  if (result.error) throw new Error(`cannot run ${file}: ${result.error.message}`);
  if (result.status !== 0) {
    const how = result.signal ? `signal ${result.signal}` : `exit code ${result.status}`;
    throw new Error(`${path.basename(file)} ${args.slice(0, 3).join(' ')} failed (${how})`);
  }
}

/**
 * Install jitpim from the action's own checkout (the commit or tag the workflow pinned) into a virtual
 * environment under the runner's tool cache, keyed by version and source digest; reuse it when it is complete.
 * Returns the path of the `jitpim` executable.
 */
function installJitpim(python) {
  const version = actionVersion();
  const digest = sourceDigest();
  const venv = path.join(toolCache(), 'jitpim', `${version}-${digest.slice(0, 16)}`, `${process.platform}-${process.arch}`);
  const jitpim = venvBin(venv, 'jitpim');
  const marker = path.join(venv, '.jitpim-complete');
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === digest && fs.existsSync(jitpim)) {
    info(`jitpim ${version} (${digest.slice(0, 12)}) is already installed in ${venv}`);
    return jitpim;
  }
  command('group', `Install jitpim ${version} from the action's checkout`);
  try {
    fs.rmSync(venv, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(venv), { recursive: true });
    runSync(python, ['-m', 'venv', venv]);
    runSync(venvBin(venv, 'python'), [
      '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', ROOT,
    ]);
    fs.writeFileSync(marker, `${digest}\n`);
  } finally {
    process.stdout.write(`::endgroup::${os.EOL}`);
  }
  return jitpim;
}

// -- running jitpim ---------------------------------------------------------------------------------------------

/**
 * The environment jitpim runs with: the job's, less the action's inputs and state (not the command's to see),
 * plus the broker's URL when the `broker-url` input names one.
 */
function jitpimEnv(extra) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('INPUT_') || key.startsWith('STATE_')) continue;
    env[key] = value;
  }
  const broker = getInput('broker-url');
  if (broker) env.JITPIM_BROKER_URL = broker;
  return { ...env, ...(extra || {}) };
}

const FORWARDED = WINDOWS ? ['SIGINT', 'SIGTERM', 'SIGBREAK'] : ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Run jitpim, forwarding SIGINT/SIGTERM/SIGHUP to it (the runner signals only this process when a job is
 * cancelled; jitpim forwards to the command, then releases). Resolves to {code, stdout}.
 */
function runJitpim(jitpim, args, { capture = false, env } = {}) {
  return new Promise((resolve) => {
    const child = childProcess.spawn(jitpim, args, {
      env: env || jitpimEnv(),
      stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'],
      windowsHide: true,
    });
    const chunks = [];
    if (capture) child.stdout.on('data', (chunk) => chunks.push(chunk));
    const handlers = {};
    for (const signal of FORWARDED) {
      handlers[signal] = () => {
        info(`jitpim action: ${signal} received; forwarded to jitpim, which releases the access before it exits`);
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      };
      process.on(signal, handlers[signal]);
    }
    const done = (code) => {
      for (const signal of FORWARDED) process.removeListener(signal, handlers[signal]);
      resolve({ code, stdout: Buffer.concat(chunks).toString('utf8') });
    };
    child.on('error', (err) => {
      error(`cannot run ${jitpim}: ${err.message}`, 'jitpim');
      done(71);
    });
    child.on('close', (code, signal) => {
      if (signal) done(128 + (os.constants.signals[signal] || 0));
      else done(code === null ? 71 : code);
    });
  });
}

function runKey() {
  const runId = process.env.GITHUB_RUN_ID;
  if (!runId) return null;
  return `gh-${runId}-${process.env.GITHUB_RUN_ATTEMPT || '1'}`;
}

module.exports = {
  ROOT,
  UsageFailure,
  actionVersion,
  addSummary,
  error,
  getBooleanInput,
  getInput,
  getState,
  info,
  installJitpim,
  jitpimEnv,
  mask,
  runJitpim,
  runKey,
  saveState,
  setOutput,
  sourceDigest,
  warning,
};
