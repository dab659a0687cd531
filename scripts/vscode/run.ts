// Real-VS-Code test harness: runs the extension in code-server (the real workbench and a
// real Node extension host, installed by scripts/bootstrap.sh) and drives it two ways.
//
//   npx tsx scripts/vscode/run.ts [--host] [--ui] [--grep <regexp>] [--no-build] [--keep]
//   (with neither --host nor --ui both suites run)
//   npx tsx scripts/vscode/run.ts --installed artifacts/vsix/prune-lens-linux-x64-<version>.vsix [--grep <regexp>] [--keep]
//
// INSTALLED  --installed <vsix> tests the package a user installs instead of this checkout:
//   `code-server --install-extension` puts it into an empty extensions folder of a fresh
//   profile, code-server starts with that folder and windows load no development path.
//   Then the UI tests of INSTALLED_UI_FILES run against the installed copy, with their
//   screenshots in artifacts/screenshots-installed/. Nothing is built.
//
// HOST TESTS  test/vscode/host/*.test.ts
//   Plain mocha (describe/it) files that `import * as vscode from 'vscode'`. They run
//   INSIDE the extension host with the extension under development loaded, so they call
//   the real API: vscode.extensions.getExtension('prune-lens.prune-lens'),
//   vscode.commands.executeCommand(...), vscode.workspace.findFiles(...). The workspace is
//   a fresh copy of ../shared/models (*.onnx, *.npy) per harness run; tests may write into
//   it (vscode.workspace.workspaceFolders[0]). Each file is bundled on its own with esbuild
//   into dist/test/host/ (so it may import from src/), and test/vscode/host/index.ts runs
//   them and reports to the harness through a JSON file.
//
// UI TESTS  test/vscode/ui/*.test.ts
//   Mocha files run here, in Node, driving Debian's chromium with Playwright against the
//   same code-server and workspace (the host suite runs first; files a test writes stay
//   for later tests). Open a window with `openWorkbench()` from scripts/vscode/workbench.ts
//   and use its helpers: runCommand(title), openFile(name), explorerRow(name),
//   explorerContextMenu(name, entry), viewRows(viewTitle), hover(target),
//   hoverTreeRow(row), waitForNotification(text), webviewFrame(), screenshot(name),
//   close(); `wb.page` is the Playwright page for anything else. Screenshots land in
//   artifacts/screenshots/ (emptied at the start of a UI run without --grep); a failing
//   test also leaves FAILED-<title>.png of its windows. Name screenshots `<file>-<step>`
//   so they sort by test.
//
// Each suite ends with a line `N passed, N failed`; the exit code is non-zero if any test
// failed, a suite did not finish, or code-server did not start. --no-build skips
// `node scripts/build.mjs` (the host tests are always bundled); --keep leaves the temp
// folder (workspace, code-server state and logs) and prints its path.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import Mocha from 'mocha';
import type { Browser } from 'playwright-core';
import type { HostResults } from '../../test/vscode/host/index';
import { type CodeServer, developmentPayload, installExtension, repoRoot, startCodeServer } from './codeServer';
import { createSampleWorkspace } from './sampleWorkspace';
import { launchBrowser, newWindow, setUiSession, type UiSession } from './workbench';

const hostSrcDir = path.join(repoRoot, 'test/vscode/host');
const hostOutDir = path.join(repoRoot, 'dist/test/host');
const uiSrcDir = path.join(repoRoot, 'test/vscode/ui');
const devScreenshotDir = path.join(repoRoot, 'artifacts/screenshots');
const installedScreenshotDir = path.join(repoRoot, 'artifacts/screenshots-installed');
/** The UI tests run against an installed .vsix: tree, hover, Prune Model…, report, validation, walkthrough. */
const INSTALLED_UI_FILES = ['smoke.test.ts', 'extension.test.ts', 'walkthrough.test.ts'];
const hostStartTimeoutMs = 120_000;
const hostRunTimeoutMs = Number(process.env.PRUNE_LENS_HOST_TIMEOUT_S ?? 900) * 1000;

interface Options {
  host: boolean;
  ui: boolean;
  grep?: string;
  build: boolean;
  keep: boolean;
  /** A .vsix to install and test instead of this checkout. */
  installed?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { host: false, ui: false, build: true, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--host') o.host = true;
    else if (a === '--ui') o.ui = true;
    else if (a === '--no-build') o.build = false;
    else if (a === '--keep') o.keep = true;
    else if (a === '--grep' && i + 1 < argv.length) o.grep = argv[++i];
    else if (a === '--installed' && i + 1 < argv.length) o.installed = path.resolve(argv[++i]);
    else throw new Error(`unknown argument: ${a}\nusage: run.ts [--host] [--ui] [--grep <regexp>] [--no-build] [--keep] | --installed <vsix> [--grep <regexp>] [--keep]`);
  }
  if (o.installed) {
    // The host tests load through extensionTestsPath, a development-time hook; an installed
    // copy is tested through the UI only, and nothing of this checkout is built.
    if (o.host) throw new Error('--installed runs the UI tests only; leave out --host');
    if (!fs.existsSync(o.installed)) throw new Error(`no such package: ${o.installed} (npm run package builds it)`);
    return { ...o, ui: true, build: false };
  }
  if (!o.host && !o.ui) o.host = o.ui = true;
  return o;
}

const testFiles = (dir: string) =>
  fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.test.ts')).sort().map((n) => path.join(dir, n)) : [];

function buildExtension(): void {
  const r = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('node scripts/build.mjs failed');
}

async function buildHostTests(): Promise<void> {
  // Rebuilt from scratch so a deleted test file does not linger as a stale bundle.
  fs.rmSync(hostOutDir, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: [path.join(hostSrcDir, 'index.ts'), ...testFiles(hostSrcDir)],
    outdir: hostOutDir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'es2022',
    sourcemap: 'inline',
    logLevel: 'warning',
    // vscode is provided by the host; mocha must be the one copy index.js configures.
    external: ['vscode', 'mocha'],
  });
}

const suiteLine = (passed: number, failed: number) => `${passed} passed, ${failed} failed`;

function readHostResults(file: string): HostResults | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as HostResults;
  } catch {
    return undefined;
  }
}

/** Extension-host exits code-server has logged so far ("... exited with code: 1, signal: null"). */
function hostExits(logFile: string): string[] {
  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
  return log.match(/Extension Host Process exited with code: \S+ signal: \S+/g) ?? [];
}

async function runHostSuite(server: CodeServer, browser: Browser, resultsFile: string): Promise<boolean> {
  console.log('\n# host tests: mocha inside the real VS Code extension host');
  // This window is the only one open, so a new exit in the log is its extension host.
  const exitsBefore = hostExits(server.logFile).length;
  const page = await newWindow(browser);
  const testsUri = server.remoteUri(path.join(hostOutDir, 'index.js'));
  await page.goto(server.workbenchUrl([developmentPayload(server), ['extensionTestsPath', testsUri]]));

  let results: HostResults | undefined;
  let problem: string | undefined;
  const started = Date.now();
  for (;;) {
    results = readHostResults(resultsFile) ?? results;
    if (results?.state === 'done') break;
    const exit = hostExits(server.logFile)[exitsBefore];
    // Read the results once more: they are written before the host exits.
    if (exit && readHostResults(resultsFile)?.state !== 'done') {
      problem = `the extension host ended before the host tests finished (${exit})`;
      break;
    }
    if (!results && Date.now() - started > hostStartTimeoutMs) {
      problem = `the host tests did not start within ${hostStartTimeoutMs / 1000} s (no ${resultsFile})`;
      break;
    }
    if (Date.now() - started > hostRunTimeoutMs) {
      problem = `the host tests did not finish within ${hostRunTimeoutMs / 1000} s`;
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  results = readHostResults(resultsFile) ?? results;
  await page.context().close();

  const tests = results?.tests ?? [];
  for (const t of tests) {
    if (t.state === 'passed') console.log(`  ✓ ${t.title} (${t.durationMs ?? 0} ms)`);
    else if (t.state === 'pending') console.log(`  - ${t.title} (pending)`);
    else console.log(`  ✗ ${t.title}\n${(t.error ?? '').replace(/^/gm, '      ')}`);
  }
  const passed = tests.filter((t) => t.state === 'passed').length;
  let failed = tests.filter((t) => t.state === 'failed').length;
  if (problem) {
    console.log(`  ✗ ${problem}`);
    failed++;
  }
  if (!problem && tests.length === 0) console.log('  (no host tests matched)');
  console.log(suiteLine(passed, failed));
  return failed === 0;
}

async function runUiSuite(server: CodeServer, browser: Browser, grep: string | undefined, installed?: string): Promise<boolean> {
  console.log(`\n# UI tests: Playwright + chromium on the workbench${installed ? `, Prune Lens installed in ${installed}` : ''}`);
  const screenshotDir = installed ? installedScreenshotDir : devScreenshotDir;
  // A full run starts from an empty folder so no stale picture survives; a --grep run
  // (someone iterating on one test) leaves the others' screenshots alone.
  if (!grep) {
    for (const f of fs.existsSync(screenshotDir) ? fs.readdirSync(screenshotDir) : []) {
      if (f.endsWith('.png')) fs.rmSync(path.join(screenshotDir, f));
    }
  }
  const session: UiSession = { server, browser, screenshotDir, open: new Set(), installed };
  setUiSession(session);
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, reporter: 'spec', ...(grep ? { grep } : {}) });
  mocha.suite.beforeEach(function () {
    session.currentTest = this.currentTest;
  });
  // Root hooks run after a file's own afterEach: windows closed there were captured by close().
  mocha.suite.afterEach(async () => {
    for (const wb of session.open) await wb.captureIfFailed();
  });
  const files = testFiles(uiSrcDir).filter((f) => !installed || INSTALLED_UI_FILES.includes(path.basename(f)));
  if (installed && files.length !== INSTALLED_UI_FILES.length) {
    throw new Error(`UI test files for --installed missing: ${INSTALLED_UI_FILES.filter((n) => !files.some((f) => f.endsWith(n))).join(', ')}`);
  }
  for (const f of files) mocha.addFile(f);
  await mocha.loadFilesAsync();
  const stats = await new Promise<Mocha.Stats | undefined>((resolve) => {
    const runner = mocha.run(() => resolve(runner.stats));
  });
  for (const wb of [...session.open]) await wb.close().catch(() => undefined);
  setUiSession(undefined);
  const passed = stats?.passes ?? 0;
  const failed = stats?.failures ?? 0;
  console.log(suiteLine(passed, failed));
  const shots = fs.existsSync(screenshotDir) ? fs.readdirSync(screenshotDir).filter((f) => f.endsWith('.png')).length : 0;
  console.log(`screenshots: ${shots} in ${path.relative(process.cwd(), screenshotDir) || screenshotDir}/`);
  return failed === 0;
}

/**
 * What `--install-extension` unpacked is the package as shipped: outside this checkout,
 * bundles and onnxruntime's binding for this platform only, no sources or tests.
 */
function checkInstalledCopy(dir: string): void {
  const problems: string[] = [];
  if (path.relative(repoRoot, dir).split(path.sep)[0] !== '..') problems.push(`installed inside the checkout: ${dir}`);
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) problems.push(`a symbolic link: ${path.relative(dir, p)}`);
      else if (e.isDirectory()) walk(p);
      else files.push(path.relative(dir, p));
    }
  };
  walk(dir);
  for (const needed of ['package.json', 'dist/extension.js', 'dist/worker.js', 'dist/analysisWorker.js', 'dist/webview.js', 'media/report.css']) {
    if (!files.includes(needed)) problems.push(`missing ${needed}`);
  }
  const native = files.filter((f) => f.startsWith('node_modules/onnxruntime-node/bin/'));
  const platformDir = `node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/`;
  if (!native.some((f) => f === `${platformDir}onnxruntime_binding.node`)) problems.push(`no onnxruntime binding in ${platformDir}`);
  for (const f of native.filter((n) => !n.startsWith(platformDir))) problems.push(`another platform's native file: ${f}`);
  for (const f of files.filter((n) => /^(src|test|scripts|webview)\//.test(n) || n.endsWith('.map') || n.endsWith('.ts'))) problems.push(`should not ship: ${f}`);
  // The package's own onnxruntime-node must load from where it was installed (a file
  // left out of the package shows here, not as a failed validation later).
  const load = spawnSync(process.execPath, ['-e', "require('onnxruntime-node').InferenceSession"], { cwd: dir, encoding: 'utf8' });
  if (load.status !== 0) problems.push(`onnxruntime-node does not load from the installed copy:\n${load.stderr.trim().split('\n').slice(0, 6).join('\n')}`);
  if (problems.length) throw new Error(`the installed copy in ${dir} is not what should ship:\n  ${problems.join('\n  ')}`);
  console.log(`installed copy ok: ${files.length} files, native: ${native.map((f) => path.basename(f)).join(', ')}`);
}

/** code-server logs "Loading development extension at <path>" for every window with a development path. */
function checkNoDevelopmentPath(stateDir: string): boolean {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.log')) hits.push(...(fs.readFileSync(p, 'utf8').match(/Loading development extension at .*/g) ?? []));
    }
  };
  walk(stateDir);
  if (hits.length) console.log(`  ✗ a window loaded a development path instead of the installed copy: ${hits[0]}`);
  else console.log('  ✓ no window loaded a development path (code-server logs)');
  return hits.length === 0;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.build) buildExtension();
  if (opts.host) await buildHostTests();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-vscode-'));
  const cleanUp = () => {
    if (!opts.keep) fs.rmSync(tmp, { recursive: true, force: true });
  };
  // A signal would skip `finally`; exiting instead runs the exit hooks that kill
  // code-server's process group and the browser.
  process.on('exit', cleanUp);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

  const resultsFile = path.join(tmp, 'host-results.json');
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let ok = true;
  try {
    const workspace = path.join(tmp, 'workspace');
    createSampleWorkspace(workspace);
    const stateDir = path.join(tmp, 'code-server');
    let installed: string | undefined;
    let extensionsDir: string | undefined;
    if (opts.installed) {
      extensionsDir = path.join(tmp, 'extensions');
      console.log(`installing ${path.relative(process.cwd(), opts.installed)} into an empty extensions folder (${extensionsDir})`);
      installed = installExtension(opts.installed, stateDir, extensionsDir);
      checkInstalledCopy(installed);
    }
    server = await startCodeServer({
      stateDir,
      workspace,
      extensionsDir,
      env: { PRUNE_LENS_HOST_RESULTS: resultsFile, ...(opts.grep ? { PRUNE_LENS_TEST_GREP: opts.grep } : {}) },
    });
    console.log(`code-server ${server.origin} (workspace ${workspace})`);
    browser = await launchBrowser(path.join(tmp, 'browser'));
    if (opts.host) ok = (await runHostSuite(server, browser, resultsFile)) && ok;
    if (opts.ui) ok = (await runUiSuite(server, browser, opts.grep, installed)) && ok;
    if (installed) ok = checkNoDevelopmentPath(server.stateDir) && ok;
  } catch (err) {
    console.error(`\nharness error: ${(err as Error).stack ?? err}`);
    ok = false;
  } finally {
    if (!ok && server) console.log(`\n${server.logTail()}`);
    await browser?.close().catch(() => undefined);
    await server?.stop();
  }
  if (opts.keep) console.log(`kept ${tmp}`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
