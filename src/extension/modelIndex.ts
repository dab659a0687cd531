// The workspace's *.onnx files, found lazily (on the first request, never at
// activation) and kept current by one file watcher. `files.exclude` applies,
// and node_modules is always skipped.

import * as vscode from 'vscode';

const MODEL_GLOB = '**/*.onnx';
const SKIPPED = '**/node_modules/**';

export class ModelIndex implements vscode.Disposable {
  private models?: Promise<vscode.Uri[]>;
  private watcher?: vscode.FileSystemWatcher;
  private refreshTimer?: ReturnType<typeof setTimeout>;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly fileChanged = new vscode.EventEmitter<vscode.Uri>();
  private readonly subscriptions: vscode.Disposable[] = [this.changed, this.fileChanged];

  /** The list of models changed (a file added, removed, or the excludes changed). */
  readonly onDidChange = this.changed.event;
  /** A model's bytes changed on disk. */
  readonly onDidChangeFile = this.fileChanged.event;

  constructor() {
    this.subscriptions.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('files.exclude')) this.refresh();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()),
    );
  }

  /** Every model in the workspace, sorted by path. */
  list(): Promise<vscode.Uri[]> {
    this.watch();
    this.models ??= findModels();
    return this.models;
  }

  /** Forgets the list; the next `list()` searches again. Coalesces bursts (a folder of files copied in). */
  refresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.models = undefined;
      this.changed.fire();
    }, 150);
  }

  private watch(): void {
    if (this.watcher) return;
    this.watcher = vscode.workspace.createFileSystemWatcher(MODEL_GLOB);
    this.subscriptions.push(
      this.watcher,
      this.watcher.onDidCreate((uri) => !isSkipped(uri) && this.refresh()),
      this.watcher.onDidDelete((uri) => !isSkipped(uri) && this.refresh()),
      this.watcher.onDidChange((uri) => !isSkipped(uri) && this.fileChanged.fire(uri)),
    );
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    for (const s of this.subscriptions) s.dispose();
  }
}

function isSkipped(uri: vscode.Uri): boolean {
  return uri.path.includes('/node_modules/');
}

async function findModels(): Promise<vscode.Uri[]> {
  // An explicit exclude replaces files.exclude instead of adding to it, so the
  // user's patterns are merged with ours into one glob.
  const userExcludes = Object.entries(vscode.workspace.getConfiguration('files').get<Record<string, unknown>>('exclude') ?? {})
    .filter(([, on]) => on === true)
    .map(([glob]) => glob);
  const exclude = `{${[SKIPPED, ...userExcludes].join(',')}}`;
  const found = await vscode.workspace.findFiles(MODEL_GLOB, exclude);
  return found.filter((u) => !isSkipped(u)).sort((a, b) => a.path.localeCompare(b.path));
}
