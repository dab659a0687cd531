// "Suggest Plan": from sensitivity curves, a pruning ratio per channel group
// that removes a target share of the model's MACs with the smallest predicted
// loss. The predicted loss of a group at a ratio is the drop of its curve
// below the baseline; groups are assumed to add up (they do not quite: a
// layer between two pruned groups loses MACs on both sides, so the sum
// overstates the savings). A multiple-choice knapsack over the curves picks
// the ratios; the plan is then applied to a fresh copy to measure the MACs it
// really removes, and the target is raised by any shortfall until it is met.

import { analyzeModel } from '../../analysis';
import { PruneLensError } from '../../onnx/errors';
import { parseModel, type OnnxModel } from '../../onnx/model';
import { runPlan } from '../plan/run';
import { DATA_AWARE_METHODS, isOneOf, type StructuredMethod } from '../methods';
import type { CalibrationOptions, PlanStep, PrunePlan } from '../plan/types';
import type { SensitivityReport } from '../report';

export interface SuggestOptions {
  /** Fraction of the model's MACs to remove, in (0, 1). */
  target: number;
  /** How each step ranks channels (the criterion the curves were measured with; default l1). */
  method?: StructuredMethod;
  /** For data-aware methods: the plan's calibration data. */
  calibration?: CalibrationOptions;
  /** Folder relative paths in the plan resolve against when it is applied for measuring. */
  baseDir?: string;
}

export interface Suggestion {
  plan: PrunePlan;
  /** Sum over groups of the curves' drop below the baseline at the chosen ratios. */
  predictedLoss: number;
  /** MACs the plan removes, measured by applying it, as a fraction of the model's. */
  macsReduction: number;
  ratios: { layer: string; ratio: number }[];
}

/** Knapsack resolution: the target is split into this many steps. */
const BINS = 2000;

export async function suggestPlan(model: OnnxModel, report: SensitivityReport, opts: SuggestOptions): Promise<Suggestion> {
  if (!(opts.target > 0 && opts.target < 1)) throw new PruneLensError('plan', `the MAC reduction target must lie strictly between 0 and 1, not ${opts.target}`);
  if (opts.method && isOneOf(DATA_AWARE_METHODS, opts.method) && !opts.calibration) {
    throw new PruneLensError('plan', `a plan ranking channels by ${opts.method} needs calibration data for its steps`);
  }
  const table = analyzeModel(parseModel(model.bytes, model.file));
  const total = table.totals.macs;
  const shown = new Map(table.layers.map((l) => [l.name, l.displayName]));
  if (!(total > 0)) throw new PruneLensError('plan', 'the model has no MACs in prunable layers to reduce', {}, model.file);
  let aim = opts.target;
  for (let attempt = 0; attempt < 6; attempt++) {
    const ratios = choose(report, aim * total);
    if (!ratios) break;
    const plan = toPlan(report, ratios, opts, shown);
    const pruned = parseModel(model.bytes, model.file);
    const result = await runPlan(pruned, macsOnly(plan), { baseDir: opts.baseDir });
    const reduction = 1 - result.totals.macsAfter / result.totals.macsBefore;
    if (reduction >= opts.target - 1e-9) {
      return {
        plan, macsReduction: reduction, ratios: [...ratios].map(([i, r]) => ({ layer: report.curves[i].layer, ratio: r })),
        predictedLoss: [...ratios].reduce((s, [i, r]) => s + loss(report, i, r), 0),
      };
    }
    aim = Math.min(0.999, aim + (opts.target - reduction) * 1.05);
  }
  throw new PruneLensError('plan', `no plan over the measured ratios removes ${Math.round(opts.target * 100)}% of the MACs; lower the target or measure higher ratios`, {}, model.file);
}

/**
 * The plan as far as its MACs go: how many channels each step removes does not
 * depend on how they are ranked, so data-aware steps are measured as l1 steps,
 * without running the calibration data through the model.
 */
function macsOnly(plan: PrunePlan): PrunePlan {
  return { ...plan, steps: plan.steps.map(({ calibration: _, ...step }) => ({ ...step, method: 'l1' })) };
}

function loss(report: SensitivityReport, curve: number, ratio: number): number {
  const c = report.curves[curve];
  const k = c.ratios.indexOf(ratio);
  return k < 0 ? 0 : Math.max(0, report.baseline - c.metric[k]);
}

/**
 * Curve index → ratio (groups left whole are absent), saving at least `need`
 * MACs by the curves' own numbers, with the least summed loss; undefined when
 * even the highest ratios do not save that much.
 */
function choose(report: SensitivityReport, need: number): Map<number, number> | undefined {
  const unit = need / BINS;
  let best = new Float64Array(BINS + 1).fill(Infinity);
  best[0] = 0;
  // picks[i][s]: the ratio index curve i took to reach bin s (-1: left whole).
  const picks: Int16Array[] = [];
  const from: Int32Array[] = [];
  report.curves.forEach((c, i) => {
    if (!c.macsSaved) throw new PruneLensError('plan', `the sensitivity curve of ${c.layer} has no MAC counts; rerun the analysis`);
    const next = new Float64Array(BINS + 1).fill(Infinity);
    const pick = new Int16Array(BINS + 1).fill(-1);
    const prev = new Int32Array(BINS + 1).fill(-1);
    for (let s = 0; s <= BINS; s++) {
      if (best[s] === Infinity) continue;
      if (best[s] < next[s]) {
        next[s] = best[s];
        pick[s] = -1;
        prev[s] = s;
      }
      c.ratios.forEach((r, k) => {
        const t = Math.min(BINS, s + Math.floor(c.macsSaved![k] / unit));
        const v = best[s] + loss(report, i, r);
        // Ties go to the smaller cut.
        if (v < next[t] - 1e-12) {
          next[t] = v;
          pick[t] = k;
          prev[t] = s;
        }
      });
    }
    best = next;
    picks.push(pick);
    from.push(prev);
  });
  if (best[BINS] === Infinity) return undefined;
  const out = new Map<number, number>();
  let s = BINS;
  for (let i = report.curves.length - 1; i >= 0; i--) {
    const k = picks[i][s];
    if (k >= 0) out.set(i, report.curves[i].ratios[k]);
    s = from[i][s];
  }
  return out;
}

function toPlan(report: SensitivityReport, ratios: Map<number, number>, opts: SuggestOptions, shown: Map<string, string>): PrunePlan {
  const steps: PlanStep[] = [...ratios].sort(([a], [b]) => a - b).map(([i, ratio]) => {
    const c = report.curves[i];
    const step: PlanStep = {
      name: (c.layers ?? [c.layer]).map((l) => shown.get(l) ?? l).join(' + '), method: opts.method ?? 'l1', structured: true, layers: c.layers ?? [c.layer], amount: ratio,
    };
    if (opts.calibration) step.calibration = opts.calibration;
    return step;
  });
  return {
    $schema: 'https://prune-lens.dev/schemas/prune-plan.schema.json',
    version: 1,
    description: `Suggested from sensitivity curves (${report.metricName}, baseline ${report.baseline.toFixed(3)}): remove ${Math.round(opts.target * 100)}% of the MACs with the least predicted loss.`,
    steps,
  };
}
