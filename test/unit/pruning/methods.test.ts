// One spelling per method: the lists every union type derives from, and the
// one reader that still accepts the old spellings (with a warning).
import * as assert from 'node:assert/strict';
import {
  DATA_AWARE_METHODS, MASK_METHODS, METHODS, PREVIEW_METHODS, readMethod, STRUCTURED_METHODS, WEIGHT_METHODS,
} from '../../../src/pruning/methods';
import { criterionNames } from '../../../src/pruning/importance';
import '../../../src/pruning/recovery/importance';

describe('pruning methods', () => {
  it('reads every current word as itself, without a warning', () => {
    for (const m of METHODS) assert.deepEqual(readMethod(m), { method: m });
  });

  it('reads the old spellings gamma and bn_gamma as bn-gamma, with a deprecation warning', () => {
    for (const old of ['gamma', 'bn_gamma']) {
      const read = readMethod(old);
      assert.equal(read?.method, 'bn-gamma');
      assert.match(read?.deprecated ?? '', new RegExp(`method "${old}" is the old spelling of "bn-gamma"; write "bn-gamma"`));
    }
  });

  it('reads anything else as no method', () => {
    for (const word of ['taylor', 'BN-GAMMA', 'bn gamma', '', 'constructor', 'toString', undefined, null, 3, {}]) {
      assert.equal(readMethod(word), undefined, JSON.stringify(word));
    }
  });

  it('every structured method is a registered criterion, under the same word', () => {
    const registered = criterionNames();
    for (const m of STRUCTURED_METHODS) assert.ok(registered.includes(m), `${m} is not registered (registered: ${registered.join(', ')})`);
  });

  it('the narrower lists are parts of the wider ones', () => {
    const within = (part: readonly string[], whole: readonly string[]) => part.every((m) => whole.includes(m));
    assert.ok(within(STRUCTURED_METHODS, METHODS) && within(MASK_METHODS, METHODS));
    assert.ok(within(DATA_AWARE_METHODS, STRUCTURED_METHODS) && within(WEIGHT_METHODS, STRUCTURED_METHODS));
    assert.ok(within(PREVIEW_METHODS, WEIGHT_METHODS));
    assert.ok(!DATA_AWARE_METHODS.some((m) => (MASK_METHODS as readonly string[]).includes(m)), 'data-aware methods rank channels only');
  });
});
