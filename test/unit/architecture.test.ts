// The import graph of src/ and webview/ against docs/architecture.md: no
// import cycle (type-only and dynamic imports count: they are how cycles
// creep in), every import points down the picture's layers, and only the
// extension imports vscode.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..');
/** The entries of the picture that sit side by side at the top (architecture.md says so in words). */
const SIDE_BY_SIDE = ['src/extension', 'src/cli', 'webview'];

type Graph = Map<string, string[]>;

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every file's relative imports (static, type-only, re-exports, dynamic), resolved; and its package imports. */
function importGraph(): { graph: Graph; packages: Map<string, string[]> } {
  const graph: Graph = new Map();
  const packages = new Map<string, string[]>();
  for (const file of [...tsFiles(path.join(ROOT, 'src')), ...tsFiles(path.join(ROOT, 'webview'))]) {
    const from = path.relative(ROOT, file);
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    const deps: string[] = [];
    const pkgs: string[] = [];
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) {
        pkgs.push(fileName);
        continue;
      }
      const base = path.resolve(path.dirname(file), fileName);
      const target = [`${base}.ts`, path.join(base, 'index.ts')].find((c) => fs.existsSync(c));
      assert.ok(target, `${from} imports ${fileName}, which is no .ts file`);
      deps.push(path.relative(ROOT, target));
    }
    graph.set(from, deps);
    packages.set(from, pkgs);
  }
  return { graph, packages };
}

/** One cycle (as a path that ends where it starts) for every back edge a depth-first search meets. */
export function findCycles(graph: Graph): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

/** The picture's entries, top first (`src/extension`, …, `src/onnx`), from the first indented block. */
function pictureLayers(): string[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8').split('\n');
  const start = doc.findIndex((l) => /^ {4}\S/.test(l));
  const block = doc.slice(start, doc.findIndex((l, i) => i > start && !/^ {4}\S/.test(l)));
  return block.map((l) => l.trim().split(/\s+/)[0].replace(/\/$/, ''));
}

/** Imports from one layer into a layer that is not below it ("a → b (layer → layer)"). */
export function upwardImports(graph: Graph, layers: string[], sideBySide: string[]): string[] {
  const layerOf = (file: string) => layers.find((l) => file === l || file.startsWith(`${l}/`));
  const rank = (layer: string) => (sideBySide.includes(layer) ? 0 : layers.indexOf(layer));
  const bad: string[] = [];
  for (const [from, deps] of graph) {
    const a = layerOf(from);
    if (!a) {
      bad.push(`${from} belongs to no layer of the picture`);
      continue;
    }
    for (const to of deps) {
      const b = layerOf(to);
      if (b !== a && (!b || rank(b) <= rank(a))) bad.push(`${from} → ${to} (${a} → ${b ?? 'no layer'})`);
    }
  }
  return bad;
}

describe('architecture: the import graph', () => {
  const { graph, packages } = importGraph();
  const layers = pictureLayers();

  it('reads the whole tree and the picture', () => {
    assert.ok(graph.size > 100, `only ${graph.size} files`);
    assert.deepEqual(layers.slice(0, SIDE_BY_SIDE.length), SIDE_BY_SIDE);
    for (const l of ['src/protocol.ts', 'src/worker', 'src/validation', 'src/pruning', 'src/analysis', 'src/onnx']) assert.ok(layers.includes(l), l);
  });

  it('has no import cycle', () => {
    assert.deepEqual(findCycles(graph).map((c) => c.join(' → ')), []);
  });

  it('every import points down the layers of docs/architecture.md', () => {
    assert.deepEqual(upwardImports(graph, layers, SIDE_BY_SIDE), []);
  });

  it('no command imports another command', () => {
    const commands = [...graph].filter(([f]) => f.startsWith('src/extension/commands/'));
    assert.ok(commands.length >= 5);
    const crossing = commands.flatMap(([f, deps]) => deps.filter((d) => d.startsWith('src/extension/commands/')).map((d) => `${f} → ${d}`));
    assert.deepEqual(crossing, []);
  });

  it('only the extension imports vscode', () => {
    const outside = [...packages].filter(([f, pkgs]) => pkgs.includes('vscode') && !f.startsWith('src/extension/')).map(([f]) => f);
    assert.deepEqual(outside, []);
  });

  it('the checks catch a cycle and an upward import', () => {
    const toy: Graph = new Map([['src/onnx/a.ts', ['src/onnx/b.ts']], ['src/onnx/b.ts', ['src/pruning/c.ts']], ['src/pruning/c.ts', ['src/onnx/a.ts']]]);
    assert.deepEqual(findCycles(toy), [['src/onnx/a.ts', 'src/onnx/b.ts', 'src/pruning/c.ts', 'src/onnx/a.ts']]);
    assert.deepEqual(upwardImports(toy, layers, SIDE_BY_SIDE), ['src/onnx/b.ts → src/pruning/c.ts (src/onnx → src/pruning)']);
    const peers: Graph = new Map([['src/cli/x.ts', ['src/extension/y.ts']], ['src/extension/y.ts', []]]);
    assert.deepEqual(upwardImports(peers, layers, SIDE_BY_SIDE), ['src/cli/x.ts → src/extension/y.ts (src/cli → src/extension)']);
  });
});
