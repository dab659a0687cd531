// `prune-lens analyze MODEL [--json]`: the layer table.

import { analyzeFile, type LayerTable } from '../analysis';
import { bytes, fixed, human, percent, stats, table } from './format';

export async function analyzeCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  const json = argv.includes('--json');
  const files = argv.filter((a) => !a.startsWith('--'));
  const unknown = argv.filter((a) => a.startsWith('--') && a !== '--json');
  if (unknown.length) throw usage(`unknown option ${unknown[0]}`);
  if (files.length !== 1) throw usage(files.length ? 'give one model' : 'missing MODEL');
  const t = await analyzeFile(files[0]);
  out(json ? JSON.stringify(t, null, 2) : render(t));
  return 0;
}

function usage(why: string): Error {
  return Object.assign(new Error(`${why}\nusage: prune-lens analyze MODEL [--json]`), { usage: true });
}

export function render(t: LayerTable): string {
  const rows = t.layers.map((l) => {
    const l1 = stats(l.out.l1);
    const l2 = stats(l.out.l2);
    const g = l.batchNorm ? stats(l.batchNorm.gamma.map(Math.abs)) : undefined;
    return [
      l.displayName, l.op, `${l.inChannels}→${l.outChannels}`, human(l.params), human(l.macs),
      `${fixed(l1.mean)} (${fixed(l1.min)})`, fixed(l2.mean), g ? `${fixed(g.min)} / ${fixed(g.median)}` : '-',
      percent(l.sparsity),
    ];
  });
  const head = `${t.file}  ·  ${t.producer || 'unknown producer'}  ·  opset ${t.opset}`;
  const io = `inputs: ${t.inputs.map((i) => `${i.name} [${i.shape.join(',')}]`).join(', ')}   outputs: ${t.outputs.map((o) => `${o.name} [${o.shape.join(',')}]`).join(', ')}`;
  const tot = `${t.layers.length} prunable layers · params ${human(t.totals.params)} · MACs ${human(t.totals.macs)} · sparsity ${percent(t.totals.sparsity)} · ${bytes(t.totals.bytes)}`;
  return [head, io, '', table(['layer', 'op', 'in→out', 'params', 'MACs', 'L1 mean (min)', 'L2 mean', '|γ| min / median', 'zeros'], rows), '', tot].join('\n');
}
