// Stand-ins for the `vscode` module, so the bench and the unit tests can load
// the bundled extension in plain Node and call it the way VS Code does.
//
//   inertApi()     every access and call succeeds and does nothing: activation cost
//   scriptedApi()  the inert API plus what a command needs to run to its end:
//                  settings, Uri, messages that answer nothing, webviews that
//                  serialise what is posted as VS Code does, and progress
//                  notifications whose Cancel the caller presses

import Module from 'node:module';
import * as path from 'node:path';

/** Makes `require('vscode')` return `api` until the returned function is called. */
export function provideVscode(api: unknown): () => void {
  const M = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = M._load;
  M._load = function (request: string, ...rest: unknown[]) {
    return request === 'vscode' ? api : load.call(this, request, ...rest);
  };
  return () => (M._load = load);
}

/** The names the extension imports from `vscode` (the bundle copies the module's own keys, esbuild's __toESM). */
const TOP_LEVEL = ['commands', 'env', 'extensions', 'l10n', 'languages', 'window', 'workspace', 'CancellationError', 'CodeLens',
  'CompletionItem', 'CompletionItemKind', 'Diagnostic', 'DiagnosticSeverity', 'Disposable', 'EventEmitter', 'Hover',
  'MarkdownString', 'Position', 'ProgressLocation', 'Range', 'StatusBarAlignment', 'TabInputCustom', 'TabInputText',
  'ThemeIcon', 'TreeItem', 'TreeItemCollapsibleState', 'Uri', 'ViewColumn'];

/** An object every access and call on succeeds: properties are further inert objects, calls and `new` return one, iteration is empty. */
function inertObject(): object {
  const handler: ProxyHandler<(...args: unknown[]) => unknown> = {
    get(_t, key) {
      if (key === Symbol.iterator) return function* () {};
      if (key === Symbol.toPrimitive) return () => '';
      if (key === 'then') return undefined;
      return inert;
    },
    // Assignments (statusItem.text = ...) are accepted and forgotten.
    set: () => true,
    apply: () => inert,
    construct: () => inert,
  };
  const inert: object = new Proxy(function () {}, handler);
  return inert;
}

/**
 * Registrations (createTreeView, registerCommand, EventEmitter) all cost next
 * to nothing, as the real ones do before anything is shown.
 */
export function inertApi(): Record<string, unknown> {
  const inert = inertObject();
  return Object.fromEntries(TOP_LEVEL.map((n) => [n, inert]));
}

/** `inert` with some members real. */
function withMembers(members: Record<string, unknown>): object {
  const inert = inertObject();
  return new Proxy(members, { get: (t, key) => (key in t ? t[key as string] : (inert as Record<string | symbol, unknown>)[key]) });
}

export function fakeContext(root: string) {
  return {
    subscriptions: [] as { dispose(): void }[],
    extensionPath: root,
    extensionUri: { fsPath: root, path: root, scheme: 'file' },
    globalState: { get: () => undefined, update: async () => undefined },
    workspaceState: { get: () => undefined, update: async () => undefined },
  };
}

class Uri {
  readonly scheme = 'file';
  private constructor(readonly fsPath: string) {}
  get path(): string {
    return this.fsPath;
  }
  static file(p: string): Uri {
    return new Uri(path.resolve(p));
  }
  static joinPath(base: { fsPath: string }, ...parts: string[]): Uri {
    return new Uri(path.join(base.fsPath, ...parts));
  }
  toString(): string {
    return `file://${this.fsPath}`;
  }
}

class CancellationError extends Error {
  constructor() {
    super('Canceled');
    this.name = 'Canceled';
  }
}

/** A progress notification the extension showed (window.withProgress). */
export interface ShownProgress {
  title: string;
  /** Presses the notification's Cancel button. */
  cancel(): void;
  /** The last message reported, and the sum of the increments (percent). */
  message?: string;
  percent: number;
}

/** A webview panel the extension opened (window.createWebviewPanel). */
export interface ShownWebview {
  /** The `type` of every message posted to it, in order. */
  posted: string[];
  /** Delivers a message from the webview to the extension. */
  send(message: unknown): void;
}

/**
 * What VS Code's extension host does to a message for a webview
 * (extHostWebview.ts, serializeWebviewMessage): JSON, with ArrayBuffers and
 * their views taken out and sent as they are.
 */
function serializeForWebview(message: unknown): { json: string; buffers: number } {
  let buffers = 0;
  const json = JSON.stringify(message, (_key, value: unknown) => {
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return { $$vscode_array_buffer_reference$$: buffers++ };
    return value;
  });
  return { json, buffers };
}

export interface ScriptedApi {
  api: Record<string, unknown>;
  /** Command handlers the extension registered, by id. */
  commands: Map<string, (...args: unknown[]) => unknown>;
  /** Progress notifications shown so far, oldest first. */
  progress: ShownProgress[];
  /** Every message shown (information, warning, error), as text. */
  messages: string[];
  /** Webview panels opened so far. */
  webviews: ShownWebview[];
}

/**
 * The inert API, plus: commands that register and run, settings read from
 * `settings` (else the extension's defaults), a trusted workspace of one
 * folder, messages that are logged and answered with nothing, and
 * withProgress with a Cancel the caller presses through `progress`.
 */
export function scriptedApi(folder: string, settings: Record<string, unknown> = {},
  /** Called when a notification is shown and on every report to it (the caller may press Cancel then). */
  onProgress?: (shown: ShownProgress) => void): ScriptedApi {
  const commands = new Map<string, (...args: unknown[]) => unknown>();
  const progress: ShownProgress[] = [];
  const messages: string[] = [];
  const webviews: ShownWebview[] = [];
  const disposable = { dispose() {} };
  const createWebviewPanel = () => {
    let receive: (m: unknown) => void = () => undefined;
    const shown: ShownWebview = { posted: [], send: (m) => receive(m) };
    webviews.push(shown);
    const webview = {
      options: {},
      html: '',
      cspSource: 'vscode-resource:',
      asWebviewUri: (u: unknown) => u,
      postMessage: async (m: { type?: string }) => {
        serializeForWebview(m);
        shown.posted.push(m.type ?? '?');
        return true;
      },
      onDidReceiveMessage: (f: (m: unknown) => void) => {
        receive = f;
        return disposable;
      },
    };
    return { webview, active: true, reveal() {}, dispose() {}, onDidDispose: () => disposable, onDidChangeViewState: () => disposable };
  };
  const message = (text: string) => {
    messages.push(text);
    return Promise.resolve(undefined);
  };
  const window = withMembers({
    showInformationMessage: message,
    showWarningMessage: message,
    showErrorMessage: message,
    createWebviewPanel,
    withProgress: async <T>(options: { title?: string }, task: (p: unknown, token: unknown) => Promise<T>): Promise<T> => {
      const listeners: (() => void)[] = [];
      const token = {
        isCancellationRequested: false,
        // As VS Code's tokens: a listener added after the cancel is called at once.
        onCancellationRequested: (f: () => void) => {
          if (token.isCancellationRequested) f();
          else listeners.push(f);
          return disposable;
        },
      };
      const shown: ShownProgress = {
        title: options.title ?? '',
        percent: 0,
        cancel() {
          if (token.isCancellationRequested) return;
          token.isCancellationRequested = true;
          for (const f of listeners) f();
        },
      };
      progress.push(shown);
      onProgress?.(shown);
      return task({
        report(v: { message?: string; increment?: number }) {
          if (v.message !== undefined) shown.message = v.message;
          shown.percent += v.increment ?? 0;
          onProgress?.(shown);
        },
      }, token);
    },
  });
  const workspace = withMembers({
    isTrusted: true,
    workspaceFolders: [{ uri: Uri.file(folder), name: path.basename(folder), index: 0 }],
    getWorkspaceFolder: () => undefined,
    asRelativePath: (p: string | Uri) => (typeof p === 'string' ? p : p.fsPath),
    getConfiguration: (section?: string) => ({
      get: <T>(key: string, fallback?: T) => {
        const full = section ? `${section}.${key}` : key;
        return full in settings ? settings[full] as T : fallback;
      },
    }),
  });
  const api = {
    ...inertApi(),
    Uri,
    CancellationError,
    window,
    workspace,
    commands: withMembers({
      registerCommand: (id: string, run: (...args: unknown[]) => unknown) => {
        commands.set(id, run);
        return disposable;
      },
      executeCommand: async (id: string, ...args: unknown[]) => commands.get(id)?.(...args),
    }),
  };
  return { api, commands, progress, messages, webviews };
}
