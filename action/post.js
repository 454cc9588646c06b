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
  if (key) {
    lib.info(`jitpim post: releasing every open lease of run ${key}`);
    const { code } = await lib.runJitpim(jitpim, ['release', '--run', key, '--early-release', 'expire']);
    worst = Math.max(worst, code);
  }
  lib.info('jitpim post: reaping leases whose job is gone and grants jitpim marked at the source');
  const reap = await lib.runJitpim(jitpim, ['reap', ...reapArgs()]);
  worst = Math.max(worst, reap.code);
  if (worst !== 0) {
    lib.error(
      `cleanup failed (exit code ${worst}): access may remain; run \`jitpim reap\` or check \`jitpim status\``,
      'jitpim cleanup',
    );
  }
  return worst;
}

function reapArgs() {
  return [];
}

post()
  .then((code) => {
    process.exitCode = code;
  })
  .catch((err) => {
    lib.error(String(err.message || err), 'jitpim cleanup');
    process.exitCode = 70;
  });
