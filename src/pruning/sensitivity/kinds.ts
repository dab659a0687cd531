// Sensitivity of a transformer by kind: attention heads vs MLP neurons vs the
// hidden size. Per kind and ratio, the mean and the worst metric over the
// groups of that kind (each group pruned alone), so one can see at a glance
// which kind of unit the model tolerates losing.

import type { GroupKind } from '../depgraph';
import type { SensitivityReport } from '../report';

export interface KindCurve {
  kind: GroupKind;
  /** How many groups (curves) of this kind. */
  groups: number;
  ratios: number[];
  mean: number[];
  worst: number[];
}

const ORDER: GroupKind[] = ['attention', 'mlp', 'hidden'];

/** One curve per kind present in the report (none for a CNN, whose curves have no kind). */
export function sensitivityByKind(report: SensitivityReport): KindCurve[] {
  const ratios = [...new Set(report.curves.flatMap((c) => c.ratios))].sort((a, b) => a - b);
  return ORDER.flatMap((kind) => {
    const curves = report.curves.filter((c) => c.kind === kind);
    if (!curves.length) return [];
    const at = ratios.map((r) => curves.map((c) => c.metric[c.ratios.indexOf(r)]).filter((v) => Number.isFinite(v)));
    return [{
      kind, groups: curves.length, ratios,
      mean: at.map((v) => (v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN)),
      worst: at.map((v) => (v.length ? Math.min(...v) : NaN)),
    }];
  });
}
