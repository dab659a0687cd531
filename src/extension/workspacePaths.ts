// Which files a plan or a setting may name. A workspace is someone else's
// folder until proven otherwise: its plan files and .vscode/settings.json can
// name data to read and outputs to write, and those must stay inside the
// workspace folders. A path outside them is refused with the reason, unless the
// user picked that very path in a file dialog (a choice they made, not the
// folder's). This file is plain Node (no vscode), so it is unit-tested alone;
// trust.ts asks the user.

import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where a path came from, for the message: "calibration data", "step 2 of x.prune.json". */
export interface PathOrigin {
  what: string;
  from: string;
}

/** The real path of `file`, or of its nearest existing ancestor joined with the rest (an output may not exist yet). */
export function realPathOf(file: string): string {
  const abs = path.resolve(file);
  const rest: string[] = [];
  let at = abs;
  for (;;) {
    try {
      return path.join(fs.realpathSync(at), ...rest.reverse());
    } catch {
      const up = path.dirname(at);
      if (up === at) return abs;
      rest.push(path.basename(at));
      at = up;
    }
  }
}

/** True when `file` (symlinks followed) lies inside one of `roots` (symlinks followed). */
export function isInside(file: string, roots: readonly string[]): boolean {
  const real = realPathOf(file);
  return roots.some((r) => {
    const root = realPathOf(r);
    const rel = path.relative(root, real);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  });
}

/** The sentence that says why a path is refused. */
export function outsideReason(file: string, roots: readonly string[], origin: PathOrigin): string {
  const where = roots.length ? `outside the workspace folder${roots.length > 1 ? 's' : ''}` : 'outside the workspace (no folder is open)';
  return `${origin.what} ${file} (from ${origin.from}) is ${where}; Prune Lens reads and writes files a plan or a setting names only inside the workspace, unless you pick the file in a dialog`;
}

/**
 * The paths the user picked in a dialog during this session: those may be
 * used wherever they are. Kept by real path, so a link to one is the same file.
 */
export class PickedPaths {
  private readonly picked = new Set<string>();

  add(file: string): void {
    this.picked.add(realPathOf(file));
  }

  has(file: string): boolean {
    return this.picked.has(realPathOf(file));
  }
}

/** undefined when `file` may be used; else the reason it may not. */
export function checkPath(file: string, roots: readonly string[], picked: PickedPaths, origin: PathOrigin): string | undefined {
  if (isInside(file, roots) || picked.has(file)) return undefined;
  return outsideReason(file, roots, origin);
}
