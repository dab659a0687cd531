// The "Prune Lens" output channel, and the one way errors reach the user: a
// notification with the core's sentence and a "Show Log" action, the detail
// (stack, worker stderr) in the log.

import * as vscode from 'vscode';
import { isPruneLensError } from '../onnx/errors';

let channel: vscode.LogOutputChannel | undefined;

/** Created on first use, so activation does not pay for it. */
export function log(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('Prune Lens', { log: true });
  return channel;
}

export function disposeLog(): void {
  channel?.dispose();
  channel = undefined;
}

/** A cancelled operation is not an error: callers check this and stay quiet. */
export function isCancellation(err: unknown): boolean {
  if (err instanceof vscode.CancellationError) return true;
  if (isPruneLensError(err)) return err.code === 'cancelled';
  return (err as Error)?.name === 'AbortError';
}

/** The sentence to show: the core's message (file and location included), or the error's own. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0];
  return String(err);
}

/**
 * Logs an error: one line for what a user can meet in normal use (a bad file,
 * a plan that does not fit: the core's PruneLensError), the whole stack for
 * anything else; the stack of an expected error goes to the trace level only.
 */
export function logError(context: string, err: unknown): void {
  const expected = isPruneLensError(err) && err.code !== 'internal';
  if (expected) {
    log().error(`${context}: ${errorMessage(err)}`);
    if (err instanceof Error && err.stack) log().trace(err.stack);
  } else {
    log().error(`${context}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}

/** Logs the error (logError) and shows its first line with "Show Log". Resolves when the toast closes. */
export async function showError(context: string, err: unknown): Promise<void> {
  const message = errorMessage(err);
  logError(context, err);
  const choice = await vscode.window.showErrorMessage(`${context}: ${message}`, 'Show Log');
  if (choice === 'Show Log') log().show(true);
}
