// Paths a plan or a setting names must stay inside the workspace folders,
// links followed, unless the user picked them in a dialog.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkPath, isInside, PickedPaths, realPathOf } from '../../../src/extension/workspacePaths';
import { tempDir } from '../../helpers/models';

describe('extension: paths named by plans and settings', () => {
  const base = tempDir('workspace-paths');
  const ws = path.join(base, 'ws');
  const other = path.join(base, 'other');
  fs.mkdirSync(path.join(ws, 'data'), { recursive: true });
  fs.mkdirSync(other, { recursive: true });
  fs.writeFileSync(path.join(ws, 'data', 'x.npy'), 'x');
  fs.writeFileSync(path.join(other, 'secret.npy'), 's');
  fs.symlinkSync(path.join(other, 'secret.npy'), path.join(ws, 'data', 'link.npy'));
  fs.symlinkSync(other, path.join(ws, 'linked-dir'));
  const origin = { what: 'calibration data', from: 'step 1 of m.prune.json' };

  it('inside: files, outputs not yet written, and the folder itself', () => {
    assert.ok(isInside(path.join(ws, 'data', 'x.npy'), [ws]));
    assert.ok(isInside(path.join(ws, 'out', 'new', 'm.pruned.onnx'), [ws]));
    assert.ok(isInside(ws, [ws]));
    assert.ok(isInside(path.join(other, 'secret.npy'), [ws, other]));
  });

  it('outside: parents, siblings with a common prefix, absolute paths, and links that lead out', () => {
    assert.ok(!isInside(path.join(ws, '..', 'other', 'secret.npy'), [ws]));
    assert.ok(!isInside(`${ws}-evil/x.npy`, [ws]));
    assert.ok(!isInside('/etc/passwd', [ws]));
    assert.ok(!isInside(path.join(ws, 'data', 'link.npy'), [ws]));
    assert.ok(!isInside(path.join(ws, 'linked-dir', 'new.onnx'), [ws]));
    assert.ok(!isInside(path.join(ws, 'x.npy'), []));
    assert.equal(realPathOf(path.join(ws, 'linked-dir', 'a', 'b.onnx')), path.join(fs.realpathSync(other), 'a', 'b.onnx'));
  });

  it('the refusal says what, from where, and why; a path picked in a dialog is allowed, also through a link', () => {
    const picked = new PickedPaths();
    const file = path.join(other, 'secret.npy');
    assert.equal(checkPath(path.join(ws, 'data', 'x.npy'), [ws], picked, origin), undefined);
    assert.equal(checkPath(file, [ws], picked, origin),
      `calibration data ${file} (from step 1 of m.prune.json) is outside the workspace folder; Prune Lens reads and writes files a plan or a setting names only inside the workspace, unless you pick the file in a dialog`);
    picked.add(file);
    assert.equal(checkPath(file, [ws], picked, origin), undefined);
    assert.equal(checkPath(path.join(ws, 'data', 'link.npy'), [ws], picked, origin), undefined);
    assert.match(checkPath('/etc/passwd', [], picked, origin)!, /outside the workspace \(no folder is open\)/);
  });
});
