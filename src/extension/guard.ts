// Every command runs inside guard(): a cancellation ends quietly, any other
// error reaches the user as one sentence with "Show Log". Calls made with an
// options object (tests, other extensions) also get the error thrown back, so
// they can tell failure from success.

import { isCancellation, log, showError } from './log';
import { UntrustedWorkspaceError } from './trust';

export async function guard<T>(title: string, programmatic: boolean, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    if (isCancellation(err)) {
      log().info(`${title}: cancelled`);
      if (programmatic) throw err;
      return undefined;
    }
    // requireTrust (or the command itself) already explained, with the action that helps; one message is enough.
    if (err instanceof UntrustedWorkspaceError) log().warn(`${title}: ${err.message}`);
    else if (!shown.has(err as object)) void showError(title, err);
    if (programmatic) throw err;
    return undefined;
  }
}

const shown = new WeakSet<object>();

/** Marks an error the command has already shown in its own words, so guard only passes it on. */
export function shownToUser(err: unknown): void {
  if (typeof err === 'object' && err !== null) shown.add(err);
}

/** An options object (not a tree node or uri) in a command's arguments marks a programmatic call. */
export function isOptions(arg: unknown): arg is Record<string, unknown> {
  return typeof arg === 'object' && arg !== null && !Array.isArray(arg) && !('scheme' in arg) && !('kind' in arg);
}
