// Long work: a cancellable notification whose Cancel aborts an AbortSignal the
// core understands, plus a status bar item for as long as anything runs.

import * as vscode from 'vscode';

export interface Work {
  signal: AbortSignal;
  /** Reports a step; `fraction` in [0, 1] moves the bar when known. */
  report(message: string, fraction?: number): void;
}

let statusItem: vscode.StatusBarItem | undefined;
const running = new Map<number, string>();
let nextId = 1;

function updateStatus(): void {
  if (running.size === 0) {
    statusItem?.hide();
    return;
  }
  statusItem ??= vscode.window.createStatusBarItem('pruneLens.work', vscode.StatusBarAlignment.Left, 10);
  statusItem.name = 'Prune Lens';
  const titles = [...running.values()];
  statusItem.text = `$(sync~spin) Prune Lens: ${titles[titles.length - 1]}${titles.length > 1 ? ` (+${titles.length - 1})` : ''}`;
  statusItem.tooltip = titles.join('\n');
  statusItem.command = 'pruneLens.showLog';
  statusItem.show();
}

export function disposeStatus(): void {
  statusItem?.dispose();
  statusItem = undefined;
}

/**
 * Runs `task` under a cancellable progress notification. Cancel (or the
 * caller's `token`) aborts the signal; the task decides how fast it stops.
 */
export async function withWork<T>(title: string, task: (work: Work) => Promise<T>, token?: vscode.CancellationToken): Promise<T> {
  const id = nextId++;
  running.set(id, title);
  updateStatus();
  try {
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Prune Lens: ${title}`, cancellable: true },
      async (progress, cancel) => {
        const controller = new AbortController();
        const abort = () => controller.abort(new vscode.CancellationError());
        const subs = [cancel.onCancellationRequested(abort), token?.onCancellationRequested(abort)];
        let last = 0;
        try {
          return await task({
            signal: controller.signal,
            report(message, fraction) {
              // withProgress takes increments; keep the bar monotone.
              const pct = fraction === undefined ? undefined : Math.max(0, Math.min(100, fraction * 100));
              const increment = pct === undefined || pct < last ? undefined : pct - last;
              if (pct !== undefined && pct > last) last = pct;
              progress.report({ message, increment });
            },
          });
        } finally {
          for (const s of subs) s?.dispose();
        }
      },
    );
  } finally {
    running.delete(id);
    updateStatus();
  }
}

/** Throws the standard cancellation error when the signal fired. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new vscode.CancellationError();
}
