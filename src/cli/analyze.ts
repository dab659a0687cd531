// `prune-lens analyze MODEL [--json] [--seq-len N]`: the layer table.

import { analyzeFile, headsLabel, macsAt, modelMacs, type LayerTable } from '../analysis';
import { bytes, fixed, human, percent, stats, table } from './format';

export async function analyzeCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  const args = [...argv];
  let seqLen: number | undefined;
  const at = args.findIndex((a) => a === '--seq-len' || a.startsWith('--seq-len='));
  if (at >= 0) {
    const value = args[at].includes('=') ? args[at].slice('--seq-len='.length) : args[at + 1];
    args.splice(at, args[at].includes('=') ? 1 : 2);
    seqLen = Number(value);
    if (!Number.isSafeInteger(seqLen) || seqLen < 1) throw usage(`--seq-len takes a positive number of tokens, not '${value ?? ''}'`);
  }
  const json = args.includes('--json');
  const files = args.filter((a) => !a.startsWith('--'));
  const unknown = args.filter((a) => a.startsWith('--') && a !== '--json');
  if (unknown.length) throw usage(`unknown option ${unknown[0]}`);
  if (files.length !== 1) throw usage(files.length ? 'give one model' : 'missing MODEL');
  const t = await analyzeFile(files[0]);
  out(json ? JSON.stringify(t, null, 2) : render(t, seqLen));
  return 0;
}

function usage(why: string): Error {
  return Object.assign(new Error(`${why}\nusage: prune-lens analyze MODEL [--json] [--seq-len N]`), { usage: true });
}

/** The text report; `seqLen` states the tokens per sample of a language model (else MACs are per token). */
export function render(t: LayerTable, seqLen?: number): string {
  const rows = t.layers.map((l) => {
    const l1 = stats(l.out.l1);
    const l2 = stats(l.out.l2);
    const g = l.batchNorm ? stats(l.batchNorm.gamma.map(Math.abs)) : undefined;
    const heads = l.heads ? `${l.heads.count}×${l.heads.dim} ${fixed(Math.min(...l.heads.l1))}` : '-';
    return [
      l.displayName, l.op, `${l.inChannels}→${l.outChannels}`, human(l.params), human(macsAt(l, seqLen)),
      `${fixed(l1.mean)} (${fixed(l1.min)})`, fixed(l2.mean), g ? `${fixed(g.min)} / ${fixed(g.median)}` : '-', heads,
      percent(l.sparsity),
    ];
  });
  const head = `${t.file}  ·  ${t.producer || 'unknown producer'}  ·  opset ${t.opset}`;
  const io = `inputs: ${t.inputs.map((i) => `${i.name} [${i.shape.join(',')}]`).join(', ')}   outputs: ${t.outputs.map((o) => `${o.name} [${o.shape.join(',')}]`).join(', ')}`;
  const m = modelMacs(t, seqLen);
  const macs = !t.sequenceDim ? `MACs ${human(t.totals.macs)}`
    : seqLen ? `MACs ${human(m.atLength)} at ${seqLen} tokens (${human(m.perToken ?? 0)} per token)` : `MACs ${human(m.perToken ?? 0)} per token (--seq-len N for a length)`;
  const tot = `${t.layers.length} prunable layers · params ${human(t.totals.params)} · ${macs} · sparsity ${percent(t.totals.sparsity)} · ${bytes(t.totals.bytes)}`;
  const parts = [head, io, '', table(['layer', 'op', 'in→out', 'params', 'MACs', 'L1 mean (min)', 'L2 mean', '|γ| min / median', 'heads (L1 min)', 'zeros'], rows)];
  if (t.norms.length) {
    parts.push('', table(['norm', 'kind', 'channels', '|γ| min / median', 'β'], t.norms.map((n) => {
      const g = stats(n.gamma.map(Math.abs));
      return [n.displayName, n.decomposed ? `${n.kind} (ops)` : n.kind, String(n.gamma.length), `${fixed(g.min)} / ${fixed(g.median)}`, n.beta ? 'yes' : '-'];
    })));
  }
  if (t.embeddings.length) {
    const shown = (name: string) => t.layers.find((l) => l.name === name)?.displayName ?? name;
    parts.push('', table(['embedding', 'rows', 'dim', 'tied to'], t.embeddings.map((e) => [e.displayName, String(e.rows), String(e.dim), e.tiedLayers.map(shown).join(', ') || '-'])));
  }
  if (t.attention.length) parts.push('', table(['attention', 'heads'], t.attention.map((a) => [a.name, `${headsLabel(a)}${a.rotary ? ', rotary' : ''}`])));
  return [...parts, '', tot].join('\n');
}
