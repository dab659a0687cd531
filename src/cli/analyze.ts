// `prune-lens analyze MODEL [--json] [--progress] [--seq-len N] [--input-shape S | --data X.npy]`: the layer table.
// A language model's MACs are per token, or at N tokens with --seq-len; a
// model with named spatial or sequence dims has its MACs counted at a stated
// input size (or the shape of a data file), and shown as a formula. Progress
// goes to stderr on a terminal (or with --progress); Ctrl-C cancels.

import { analyzeFile, headsLabel, macsAt, modelMacs, type AnalyzeOptions, type LayerTable } from '../analysis';
import { readNpyHeader } from '../validation/npy';
import { assumedInputLine, bytes, fixed, human, parseInputShape, percent, progressLine, stats, table } from './format';
import { jsonPieces } from '../analysis/jsonPieces';

const USAGE = 'usage: prune-lens analyze MODEL [--json] [--progress] [--seq-len N] [--input-shape [NAME=]1x3x96x96[,NAME=...] | --data X.npy]';

/** `out` gets the whole output at once; without it, the output goes to stdout (JSON as it is formatted). */
export async function analyzeCommand(argv: string[], out?: (s: string) => void, signal?: AbortSignal): Promise<number> {
  let json = false;
  let showProgress = process.stderr.isTTY === true;
  let seqLen: number | undefined;
  let inputShape: AnalyzeOptions['inputShape'];
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [a, inline] = argv[i].startsWith('--seq-len=') ? ['--seq-len', argv[i].slice('--seq-len='.length)] : [argv[i], undefined];
    if (a === '--json') json = true;
    else if (a === '--progress') showProgress = true;
    else if (a === '--seq-len') {
      const v = inline ?? argv[++i];
      seqLen = Number(v);
      if (!Number.isSafeInteger(seqLen) || seqLen < 1) throw usage(`--seq-len takes a positive number of tokens, not '${v ?? ''}'`);
    } else if (a === '--input-shape') {
      const text = value(argv, ++i, a);
      try {
        inputShape = { shapes: parseInputShape(text), source: '--input-shape' };
      } catch (e) {
        throw usage((e as Error).message);
      }
    } else if (a === '--data') {
      const file = value(argv, ++i, a);
      inputShape = { shapes: readNpyHeader(file).shape, source: `the shape of ${file}` };
    } else if (a.startsWith('--')) throw usage(`unknown option ${a}`);
    else files.push(a);
  }
  if (files.length !== 1) throw usage(files.length ? 'give one model' : 'missing MODEL');
  const progress = showProgress ? progressLine(`analyzing ${files[0]}`) : undefined;
  let t: LayerTable;
  try {
    t = await analyzeFile(files[0], { inputShape, signal, onProgress: progress?.update });
  } finally {
    progress?.end();
  }
  if (out) out(json ? JSON.stringify(t, null, 2) : render(t, seqLen));
  else if (json) await writeJson(t);
  else process.stdout.write(render(t, seqLen) + '\n');
  return 0;
}

/**
 * The table as JSON on stdout, a megabyte at a time: the JSON of a large
 * language model is hundreds of MB, more than the rest of the analysis needs.
 */
async function writeJson(t: LayerTable): Promise<void> {
  let batch: string[] = [];
  let size = 0;
  for (const piece of jsonPieces(t, 2)) {
    batch.push(piece);
    size += piece.length;
    if (size >= 1 << 20) {
      // A pipe whose reader is slower queues what it cannot take: wait for it, so that queue stays small.
      if (!process.stdout.write(batch.join(''))) await new Promise((resolve) => process.stdout.once('drain', resolve));
      batch = [];
      size = 0;
    }
  }
  process.stdout.write(batch.join('') + '\n');
}

function value(argv: string[], i: number, flag: string): string {
  if (i >= argv.length || argv[i].startsWith('--')) throw usage(`${flag} needs a value`);
  return argv[i];
}

function usage(why: string): Error {
  return Object.assign(new Error(`${why}\n${USAGE}`), { usage: true });
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
  // A stated input size (assumedInput) already counts the tokens.
  const macs = !t.sequenceDim || t.assumedInput ? `MACs ${human(t.totals.macs)}`
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
  return [...parts, '', tot, ...macsNote(t)].join('\n');
}

/** Which input size the MACs are at, and the formula, when the model has named dims. */
function macsNote(t: LayerTable): string[] {
  const f = t.totals.macsFormula;
  if (!f) return [];
  const at = t.assumedInput
    ? assumedInputLine(t.assumedInput)
    : t.sequenceDim ? '' : 'MACs count every named dim as 1: give --input-shape or --data for a number at a real size';
  return [...(at ? [at] : []), `MACs = ${f}`];
}
