// Entry of the host test suite. The harness (scripts/vscode/run.ts) bundles this file and
// every test/vscode/host/*.test.ts into dist/test/host/ and opens the workbench with
// `extensionTestsPath` pointing here: VS Code then calls `run()` INSIDE the real extension
// host, so the tests use the real `vscode` API against the loaded extension.
//
// Results go to the JSON file named by PRUNE_LENS_HOST_RESULTS (set by the harness on
// code-server's environment, which the extension host inherits): {state:"running"} as
// soon as the suite starts and after each test, then {state:"done"} with the counts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export interface HostTestResult {
  title: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs?: number;
  error?: string;
}

export interface HostResults {
  state: 'running' | 'done';
  passed: number;
  failed: number;
  pending: number;
  tests: HostTestResult[];
}

function write(file: string, results: HostResults): void {
  // Temp file + rename: the harness polls this file and must never read half of it.
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(results, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

export async function run(): Promise<void> {
  const resultsFile = process.env.PRUNE_LENS_HOST_RESULTS;
  if (!resultsFile) throw new Error('PRUNE_LENS_HOST_RESULTS is not set; run host tests through scripts/vscode/run.ts');
  const results: HostResults = { state: 'running', passed: 0, failed: 0, pending: 0, tests: [] };
  write(resultsFile, results);

  const grep = process.env.PRUNE_LENS_TEST_GREP;
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 120_000, ...(grep ? { grep } : {}) });
  // The reporter's output lands in the extension host log; the harness prints the JSON.
  for (const f of fs.readdirSync(__dirname).filter((n) => n.endsWith('.test.js')).sort()) {
    mocha.addFile(path.join(__dirname, f));
  }

  // Written after every test, so a host that dies mid-run still shows how far it got.
  const record = (r: HostTestResult) => {
    results.tests.push(r);
    write(resultsFile, results);
  };
  try {
    await new Promise<void>((resolve) => {
      const runner = mocha.run(() => resolve());
      runner.on('pass', (t) => record({ title: t.fullTitle(), state: 'passed', durationMs: t.duration }));
      runner.on('pending', (t) => record({ title: t.fullTitle(), state: 'pending' }));
      // Also fires for failing hooks, which must fail the suite too.
      runner.on('fail', (t, err: Error) =>
        record({ title: t.fullTitle(), state: 'failed', durationMs: t.duration, error: err.stack ?? String(err) }),
      );
    });
  } catch (err) {
    // A test file that throws while loading never reaches the runner's events.
    results.tests.push({ title: '(loading the host test files)', state: 'failed', error: (err as Error).stack ?? String(err) });
  }

  for (const t of results.tests) results[t.state]++;
  results.state = 'done';
  write(resultsFile, results);
}
