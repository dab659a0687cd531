// The CLI's help, version and exit status follow the usual conventions: asking for
// help is not an error (stdout, 0), a missing or wrong command is (stderr, 2).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../../../src/cli/main';
import { ROOT } from '../../helpers/models';

/** Runs main() with stdout and stderr captured. */
async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const write = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = ((s: string) => ((out.stdout += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((out.stderr += s), true)) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, ...out };
  } finally {
    process.stdout.write = write.stdout;
    process.stderr.write = write.stderr;
  }
}

describe('prune-lens help, version and exit status', () => {
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

  for (const flag of ['--version', '-V']) {
    it(`${flag} prints "prune-lens <version of package.json>" and exits 0`, async () => {
      const r = await run(flag);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `prune-lens ${version}\n`);
      assert.equal(r.stderr, '');
    });
  }

  for (const argv of [['--help'], ['-h'], ['help']]) {
    it(`${argv.join(' ')} prints every command and the exit codes to stdout, exit 0`, async () => {
      const r = await run(...argv);
      assert.equal(r.code, 0);
      for (const cmd of ['analyze', 'prune', 'validate', 'sensitivity']) assert.match(r.stdout, new RegExp(`^  prune-lens ${cmd} `, 'm'));
      assert.match(r.stdout, /exit status: 0 .*1 .*2 /);
      assert.equal(r.stderr, '');
    });
  }

  it('COMMAND --help and help COMMAND print that command\'s usage only, exit 0', async () => {
    for (const argv of [['prune', '--help'], ['help', 'prune'], ['validate', '-h']]) {
      const r = await run(...argv);
      assert.equal(r.code, 0, argv.join(' '));
      assert.match(r.stdout, new RegExp(`^usage:\\n  prune-lens ${argv.includes('validate') ? 'validate' : 'prune'} `));
      assert.doesNotMatch(r.stdout, /prune-lens analyze/);
    }
  });

  it('no command prints the usage to stderr and exits 2', async () => {
    const r = await run();
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /usage:/);
  });

  it('an unknown command names it on stderr and exits 2', async () => {
    const r = await run('prnue', 'model.onnx');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "prnue"/);
  });
});
