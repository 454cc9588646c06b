// The action's post step, which the runner runs after the job's steps even when the job failed or was
// cancelled (post-if: always()): release every open lease of this run and reap at the source, so a cancelled
// job leaves no access behind. PIM's first-5-minutes refusal is not waited out here (the grant then ends at
// its end time at the source, and the record says so); plain RBAC has no such window and is removed.
'use strict';

const lib = require('./lib.js');

async function post() {
  const jitpim = lib.getState('jitpim');
  if (!jitpim || lib.getState('exec') !== 'true') {
    lib.info('jitpim post: nothing was granted by this step; nothing to clean up');
    return 0;
  }
  const key = lib.getState('run-key') || lib.runKey();
  let worst = 0;
  if (lib.getInput('mode') === 'broker') {
    // The broker granted, and only the broker can release; its own reaper ends what a vanished job held.
    if (key) {
      lib.info(`jitpim post: asking the broker to release every open request of run ${key}`);
      const { code } = await lib.runJitpim(jitpim, ['release', '--run', key, '--mode', 'broker']);
      worst = code;
    }
    if (worst !== 0) lib.error(`the broker did not confirm the release (exit code ${worst})`, 'jitpim cleanup');
    return worst;
  }
  if (key) {
    lib.info(`jitpim post: releasing every open lease of run ${key}`);
    const { code } = await lib.runJitpim(jitpim, ['release', '--run', key, '--early-release', 'expire']);
    worst = Math.max(worst, code);
  }
  lib.info('jitpim post: reaping leases of this runner whose job is gone');
  const reap = await lib.runJitpim(jitpim, ['reap']);
  worst = Math.max(worst, reap.code);
  // The ledger goes with a hosted runner's VM: also read the grants themselves, where jitpim marks each one
  // with its lease, holder and end, and remove the marked grants whose holders have all ended.
  lib.info('jitpim post: reaping expired jitpim grants at the source');
  const source = await lib.runJitpim(jitpim, ['reap', '--source', ...sourceArgs()]);
  if (source.code === SOURCE_UNREADABLE) {
    lib.warning(
      'jitpim reap --source could not read every scope or kind it searched (exit code 78); what it could read is clean',
      'jitpim cleanup',
    );
  } else {
    worst = Math.max(worst, source.code);
  }
  if (worst !== 0) {
    lib.error(
      `cleanup failed (exit code ${worst}): access may remain; run \`jitpim reap\` or check \`jitpim status\``,
      'jitpim cleanup',
    );
  }
  return worst;
}

// `jitpim reap --source` exits 78 when a scope or kind it was asked to search could not be read.
const SOURCE_UNREADABLE = 78;
const ARM_KINDS = new Set(['azure-role', 'rbac']);

/** Search where this step's target lives (its kind, and its ARM scope); everything visible for a profile. */
function sourceArgs() {
  const kind = lib.getInput('kind');
  if (!kind || lib.getInput('profile')) return [];
  const args = ['--kind', kind];
  const scope = lib.getInput('scope');
  if (ARM_KINDS.has(kind) && scope) args.push('--scope', scope);
  return args;
}

post()
  .then((code) => {
    process.exitCode = code;
  })
  .catch((err) => {
    lib.error(String(err.message || err), 'jitpim cleanup');
    process.exitCode = 71;
  });
