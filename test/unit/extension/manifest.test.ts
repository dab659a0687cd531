// The manifest's user-facing strings live in package.nls.json (where a translation
// would go), and what vsce packages is what it should: no literal title or description
// left in package.json, no key without a string, no string without a use.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_BATCH_SIZE } from '../../../src/worker/validate';
import { ROOT } from '../../helpers/models';

const USER_FACING = /^(displayName|description|markdownDescription|title|name|contents|contextualTitle|category|enumDescriptions|altText|patternErrorMessage)$/;

describe('package.json and package.nls.json', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const nls = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.nls.json'), 'utf8')) as Record<string, string>;

  /** [where, string] for every user-facing string of the manifest. */
  function strings(): Array<[string, string]> {
    const found: Array<[string, string]> = [];
    const walk = (v: unknown, where: string, key: string) => {
      if (typeof v === 'string') {
        if (USER_FACING.test(key)) found.push([where, v]);
      } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`, key));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`, k);
    };
    walk({ displayName: pkg.displayName, description: pkg.description }, '', '');
    walk(pkg.contributes, 'contributes', '');
    walk(pkg.capabilities, 'capabilities', '');
    return found;
  }

  it('every user-facing string of the manifest is a %key% of package.nls.json', () => {
    const all = strings();
    assert.ok(all.length > 50, `only ${all.length} strings found: the walk misses the manifest`);
    const literal = all.filter(([, s]) => !/^%[^%]+%$/.test(s));
    assert.deepEqual(literal, [], 'literal strings: move them to package.nls.json');
    const missing = all.map(([, s]) => s.slice(1, -1)).filter((k) => typeof nls[k] !== 'string' || nls[k] === '');
    assert.deepEqual(missing, []);
  });

  it('package.nls.json has no key the manifest does not use', () => {
    const used = new Set(strings().map(([, s]) => s.slice(1, -1)));
    assert.deepEqual(Object.keys(nls).filter((k) => !used.has(k)), []);
  });

  type Property = { type?: string | string[]; enum?: unknown[]; scope?: string; default?: unknown };
  const properties = () => (pkg.contributes as { configuration: { properties: Record<string, Property> } }).configuration.properties;

  it('the defaults it states are the core\'s', () => {
    assert.equal(properties()['pruneLens.validation.batchSize'].default, DEFAULT_BATCH_SIZE);
    assert.equal(properties()['pruneLens.worker.memoryLimitMb'].default, 0, '0: the worker client\'s own default');
  });

  it('restricted mode ignores every workspace setting that names a path or picks native code', () => {
    // Paths: data and labels read, outputs written, a folder of native libraries loaded;
    // the provider list picks which native backend runs.
    const expected = ['pruneLens.calibration.data', 'pruneLens.cudaLibraryPath', 'pruneLens.executionProviders',
      'pruneLens.outputName', 'pruneLens.validation.data', 'pruneLens.validation.labels'];
    const untrusted = (pkg.capabilities as { untrustedWorkspaces: { restrictedConfigurations: string[] } }).untrustedWorkspaces;
    assert.deepEqual([...untrusted.restrictedConfigurations].sort(), expected);
    for (const key of expected) assert.ok(properties()[key], `${key} is not a setting`);
    // A new free-text setting is a path until someone says otherwise here; machine settings are the user's alone.
    const notPaths = ['pruneLens.assumedInputShape'];
    const freeText = Object.entries(properties())
      .filter(([k, p]) => [p.type].flat().includes('string') && !p.enum && p.scope !== 'machine' && !notPaths.includes(k))
      .map(([k]) => k);
    assert.deepEqual(freeText.filter((k) => !expected.includes(k)), []);
    assert.equal(properties()['pruneLens.worker.memoryLimitMb'].scope, 'machine');
  });
});
