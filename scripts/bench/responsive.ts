// Bench: is the extension host responsive while the extension analyses and
// prunes a GB-sized model, and does a cancel leave nothing behind?
//
// Each run is a fresh process that loads the bundled extension
// (dist/extension.js) with a stand-in `vscode` (vscodeStandIn.ts) and calls it
// as VS Code would: the models view's analysis (ModelCache.get, what the tree,
// the hovers and the report ask for) and the Prune Model command with options
// (the wizard's last step: the same command, plan and worker). The process's
// event loop is what the extension host's would be: its delay is sampled with
// perf_hooks.monitorEventLoopDelay, and the longest stalls are located with a
// 5 ms ticker. A cancelled run presses Cancel on the extension's progress
// notification half-way through (by the uncancelled run's time), then times how
// long the command takes to settle and lists what is left in the output folder.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DataType } from '../../src/onnx/tensor';
import { generateLlm, llmBytes, type LlmSpec } from './llmModel';
import { fakeContext, provideVscode, scriptedApi, type ScriptedApi } from '../../test/helpers/vscodeStandIn';

const MB = 1024 * 1024;
/** monitorEventLoopDelay's sampling interval. */
const RESOLUTION_MS = 10;

type Mode = 'idle' | 'analyze' | 'report' | 'prune';

interface Stall {
  ms: number;
  /** CPU time the main thread itself used in that gap (10 ms ticks): near `ms` when it was busy, near 0 when it waited for a core. */
  cpu: number;
  /** Since the measured work started. */
  at: number;
  /** What the progress notification said at the time. */
  during: string;
}

interface Outcome {
  wall: number;
  /** Event-loop delay while the work ran, in ms beyond monitorEventLoopDelay's interval (RESOLUTION_MS). */
  max: number;
  p99: number;
  mean: number;
  /** The three longest gaps seen by a 5 ms ticker. */
  stalls: Stall[];
  result: string;
  /** With a cancel: from pressing Cancel to the command settling. */
  cancelToSettled?: number;
  /** What the progress notification said when Cancel was pressed. */
  cancelledDuring?: string;
  /** Files in the output folder once settled (and the model's folder, for an analysis). */
  leftovers: string[];
}

// ---- child side ---------------------------------------------------------------

interface Api {
  services: { cache: { get(uri: unknown): Promise<{ layers: unknown[] }> } };
}

/** `bench.js --child-responsive MODE MODEL OUTDIR [CANCEL_AT_MS]`: one run, an Outcome on stdout. */
export async function responsiveChild(args: string[]): Promise<void> {
  const [mode, model, outDir, cancelArg] = args as [Mode, string, string, string?];
  const cancelAt = cancelArg === undefined ? undefined : Number(cancelArg);
  const root = path.resolve(__dirname, '..');
  const scripted = scriptedApi(path.dirname(model));
  provideVscode(scripted.api);
  const ext = require(path.join(root, 'dist', 'extension.js')) as { activate(ctx: unknown): Api };
  const api = ext.activate(fakeContext(root));
  const Uri = scripted.api.Uri as { file(p: string): unknown };
  const uri = Uri.file(model);
  const modelFiles = new Set(fs.readdirSync(path.dirname(model)));
  // The wizard reads the model before it asks anything: a prune starts with the analysis cached.
  if (mode === 'prune') await api.services.cache.get(uri);

  // The report panel opens on a cached analysis (the tree or a hover read the model first).
  if (mode === 'report') await api.services.cache.get(uri);

  const work = mode === 'idle' ? () => new Promise<string>((r) => setTimeout(() => r('nothing to do'), 3000))
    : mode === 'analyze' ? () => api.services.cache.get(uri).then((t) => `${t.layers.length} layers`)
    : mode === 'report' ? () => openReport(scripted, uri)
    : () => (scripted.commands.get('pruneLens.pruneModel')!(uri, {
      method: 'l1', amount: 0.5, structured: true, output: path.join(outDir, 'pruned.onnx'), overwrite: true,
    }) as Promise<{ output: string } | undefined>).then((r) => (r ? `wrote ${path.basename(r.output)}` : 'nothing'));

  const outcome = await measured(work, scripted, cancelAt);
  outcome.leftovers = [
    ...fs.readdirSync(outDir),
    ...fs.readdirSync(path.dirname(model)).filter((f) => !modelFiles.has(f)).map((f) => `${f} (beside the model)`),
  ];
  process.stdout.write(JSON.stringify(outcome));
  // The worker process and threads are the extension's; the bench process ends here.
  process.exit(0);
}

/** Show Layer Report, then the webview's 'ready': until the layer table has been posted to it. */
async function openReport(scripted: ScriptedApi, uri: unknown): Promise<string> {
  await scripted.commands.get('pruneLens.showLayerReport')!(uri);
  const webview = scripted.webviews[scripted.webviews.length - 1];
  webview.send({ type: 'ready' });
  const end = Date.now() + 60_000;
  for (;;) {
    const i = webview.posted.lastIndexOf('idle');
    if (i >= 0 && i + 1 < webview.posted.length) return `posted ${webview.posted.slice(i + 1).join(', ')}`;
    if (Date.now() > end) throw new Error(`the report posted only ${webview.posted.join(', ')}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function measured(work: () => Promise<string>, scripted: ScriptedApi, cancelAt?: number): Promise<Outcome> {
  const first = scripted.progress.length;
  const during = () => {
    const p = scripted.progress.length > first ? scripted.progress[scripted.progress.length - 1] : undefined;
    return p ? `${p.title}${p.message ? `: ${p.message}` : ''}` : '(no progress shown)';
  };
  const stalls: Stall[] = [];
  const t0 = performance.now();
  let last = t0;
  let lastCpu = mainThreadCpu();
  const ticker = setInterval(() => {
    const now = performance.now();
    const cpu = mainThreadCpu();
    const gap = now - last - 5;
    const used = cpu - lastCpu;
    last = now;
    lastCpu = cpu;
    if (gap < 20) return;
    stalls.push({ ms: gap, cpu: used, at: now - gap - t0, during: during() });
    stalls.sort((a, b) => b.ms - a.ms).splice(3);
  }, 5);
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  let cancelledAt: number | undefined;
  let cancelledDuring: string | undefined;
  const timer = cancelAt === undefined ? undefined : setTimeout(() => {
    const shown = scripted.progress.length > first ? scripted.progress[scripted.progress.length - 1] : undefined;
    cancelledDuring = during();
    cancelledAt = performance.now();
    shown?.cancel();
  }, cancelAt);
  let result: string;
  try {
    result = await work();
  } catch (e) {
    result = `failed: ${(e as Error).message.split('\n')[0]}`;
  }
  const end = performance.now();
  // A stall just before the end is recorded by the next tick of both clocks.
  await new Promise((r) => setTimeout(r, 30));
  h.disable();
  clearInterval(ticker);
  clearTimeout(timer);
  return {
    wall: end - t0,
    // The histogram holds the time between its ticks: the delay is what passes the interval.
    max: Math.max(0, h.max / 1e6 - RESOLUTION_MS),
    p99: Math.max(0, h.percentile(99) / 1e6 - RESOLUTION_MS),
    mean: Math.max(0, h.mean / 1e6 - RESOLUTION_MS),
    stalls,
    result: cancelAt !== undefined && cancelledAt === undefined ? `${result} (finished before the cancel)` : result,
    cancelToSettled: cancelledAt === undefined ? undefined : end - cancelledAt,
    cancelledDuring,
    leftovers: [],
  };
}

/** CPU time of this process's main thread (the event loop's), in ms, from /proc (0 where there is none). */
function mainThreadCpu(): number {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

// ---- parent side --------------------------------------------------------------

function run(mode: Mode, model: string, outDir: string, cancelAt?: number): Outcome {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const args = [path.join(__dirname, 'bench.js'), '--child-responsive', mode, model, outDir, ...(cancelAt === undefined ? [] : [String(Math.round(cancelAt))])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 * MB });
  if (r.status !== 0) throw new Error(`responsive ${mode} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Outcome;
}

function row(label: string, o: Outcome): string[] {
  const stall = `stall max ${o.max.toFixed(0).padStart(4)} ms  p99 ${o.p99.toFixed(0).padStart(3)} ms  mean ${o.mean.toFixed(1).padStart(4)} ms`;
  const lines = [`  ${label.padEnd(18)} ${(o.wall / 1000).toFixed(2).padStart(6)} s   ${stall}   ${o.result}`];
  const more = (text: string) => lines.push(`      ${text}`);
  if (o.cancelToSettled !== undefined) more(`cancel pressed during "${o.cancelledDuring}"; settled ${o.cancelToSettled.toFixed(0)} ms later`);
  more(`files left in the output folder: ${o.leftovers.length ? o.leftovers.join(', ') : 'none'}`);
  // The main thread's own CPU tells work on the event loop (busy ≈ stall) from waiting for a core (busy ≈ 0).
  for (const s of o.stalls) more(`stall ${s.ms.toFixed(0)} ms (main thread busy ${s.cpu.toFixed(0)} ms) at ${(s.at / 1000).toFixed(2)} s, ${s.during}`);
  return lines;
}

export async function benchResponsive(blocks = 16): Promise<string[]> {
  const spec: LlmSpec = { blocks, dtype: DataType.FLOAT16 };
  const shared = generateLlm(spec);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-bench-responsive-'));
  // The generated model's folder is shared with other benches, which write beside it: the model is
  // hard-linked into a folder of our own, so what appears beside it is ours (a copy where links fail).
  const model = path.join(work, 'model', path.basename(shared));
  fs.mkdirSync(path.dirname(model));
  for (const f of [path.basename(shared), `${path.basename(shared)}.data`]) {
    try {
      fs.linkSync(path.join(path.dirname(shared), f), path.join(path.dirname(model), f));
    } catch {
      fs.copyFileSync(path.join(path.dirname(shared), f), path.join(path.dirname(model), f));
    }
  }
  const outDir = path.join(work, 'out');
  const lines = [
    `llm-responsive: the extension host's event loop while the extension analyses and prunes ${path.basename(path.dirname(shared))} (${(llmBytes(spec) / 1e9).toFixed(2)} GB fp16, external data)`,
    `  the bundled extension in a stand-in host, one fresh process per run; prune: Prune Model with options (l1 50% structured), the analysis cached first; load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')} on ${os.availableParallelism?.() ?? os.cpus().length} cores`,
  ];
  try {
    // The machine's own noise: the same ticker with nothing to do.
    lines.push(...row('idle', run('idle', model, outDir)));
    for (const mode of ['analyze', 'report', 'prune'] as const) {
      const whole = run(mode, model, outDir);
      lines.push(...row(mode, whole));
      if (mode === 'report') continue;
      const cancelled = run(mode, model, outDir, whole.wall / 2);
      lines.push(...row(`${mode}, cancelled`, cancelled));
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  for (const l of lines) console.log(l);
  return lines;
}
