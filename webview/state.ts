// What the webview remembers across hide/show and reloads (vscode.setState):
// the user's settings and the last data the extension sent. Restoring checks
// every field, because the saved state may come from an older build.

import type { LayerTable } from '../src/analysis/types';
import type { PruneReport, SensitivityReport } from '../src/pruning/report';
import type { ValidationReport } from '../src/validation/report';
import { isOneOf, PREVIEW_METHODS, readMethod, type PreviewMethod } from '../src/pruning/methods';
import { SCOPES, type PruneDefaults, type Scope } from '../src/protocol';
import type { HistogramScale } from './histogram';
import { SORT_KEYS, type SortDirection, type SortKey } from './layerRows';

export const TABS = ['layers', 'compare', 'validation', 'sensitivity'] as const;
export type Tab = (typeof TABS)[number];

export interface ViewSettings {
  ratio: number;
  scope: Scope;
  /** How the preview ranks channels. */
  criterion: PreviewMethod;
  selectedLayer?: string;
  sortKey: SortKey;
  sortDirection: SortDirection;
  tab: Tab;
  /** The histogram's x axis; auto picks log when the scores span over three decades. */
  histogramScale: 'auto' | HistogramScale;
}

export interface ViewData {
  table?: LayerTable;
  /** Layers the structured engine will not cut, with the reason. */
  frozen?: Record<string, string>;
  /** Tokens per sample for a language model's MACs. */
  sequenceLength?: number;
  /** How the extension prunes (the settings), for the preview and the slider's start. */
  defaults?: PruneDefaults;
  prune?: { report: PruneReport; after?: LayerTable };
  validation?: ValidationReport;
  sensitivity?: SensitivityReport;
}

export interface SavedState {
  settings: ViewSettings;
  data: ViewData;
}

export const DEFAULT_SETTINGS: Readonly<ViewSettings> = {
  ratio: 0.5,
  scope: 'local',
  criterion: 'l1',
  sortKey: 'index',
  sortDirection: 'asc',
  tab: 'layers',
  histogramScale: 'auto',
};

/** The ratio control's range: removing every channel of a layer is never a useful preview. */
export const MIN_RATIO = 0.05;
export const MAX_RATIO = 0.95;

export function clampRatio(ratio: number): number {
  if (!Number.isFinite(ratio)) return DEFAULT_SETTINGS.ratio;
  return Math.min(MAX_RATIO, Math.max(MIN_RATIO, Math.round(ratio * 100) / 100));
}

/** Whether getState() held settings of an earlier session (then they win over the configured defaults). */
export function hasSavedSettings(saved: unknown): boolean {
  return isObject(saved) && isObject(saved.settings);
}

/** Settings from whatever getState() returned, falling back field by field. */
export function restoreSettings(saved: unknown): ViewSettings {
  const s = (isObject(saved) && isObject(saved.settings) ? saved.settings : {}) as Record<string, unknown>;
  const pick = <T>(value: unknown, allowed: readonly T[], fallback: T): T =>
    allowed.includes(value as T) ? (value as T) : fallback;
  return {
    ratio: typeof s.ratio === 'number' ? clampRatio(s.ratio) : DEFAULT_SETTINGS.ratio,
    scope: pick(s.scope, SCOPES, DEFAULT_SETTINGS.scope),
    criterion: previewMethod(s.criterion),
    selectedLayer: typeof s.selectedLayer === 'string' ? s.selectedLayer : undefined,
    sortKey: pick(s.sortKey, SORT_KEYS, DEFAULT_SETTINGS.sortKey),
    sortDirection: pick(s.sortDirection, ['asc', 'desc'] as const, DEFAULT_SETTINGS.sortDirection),
    tab: pick(s.tab, TABS, DEFAULT_SETTINGS.tab),
    histogramScale: pick(s.histogramScale, ['auto', 'linear', 'log'] as const, DEFAULT_SETTINGS.histogramScale),
  };
}

/** A saved criterion; state saved by an older build may hold an old spelling of the method. */
function previewMethod(saved: unknown): PreviewMethod {
  const method = readMethod(saved)?.method;
  return isOneOf(PREVIEW_METHODS, method) ? method : DEFAULT_SETTINGS.criterion;
}

/**
 * Data is restored only when it still has the layer table it belongs to; the
 * extension resends everything after 'ready' anyway, this just avoids an empty
 * flash when the panel is shown again.
 */
export function restoreData(saved: unknown): ViewData {
  if (!isObject(saved) || !isObject(saved.data)) return {};
  const data = saved.data as ViewData;
  return isObject(data.table) && Array.isArray(data.table.layers) ? data : {};
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
