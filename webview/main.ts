// The report webview: receives plain data through the protocol (src/protocol.ts)
// and renders the summary, the layer table with its histogram, and the
// prune/validation/sensitivity results. It never parses models itself.

// Only the components used, so the bundle stays small.
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-radio/index.js';
import '@vscode-elements/elements/dist/vscode-radio-group/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';

import type { PruneReport } from '../src/pruning/report';
import { decodeToWebview, type EncodedMessage, type FromWebview, type ToWebview } from '../src/protocol';
import { isOneOf, PREVIEW_METHODS } from '../src/pruning/methods';
import { emptyState, h } from './dom';
import { formatChange } from '../src/pruning/outcome';
import { isClassifierOutput } from '../src/validation/report';
import { formatCosine, formatPercent } from './format';
import { layerRows, sortRows, type SortKey } from './layerRows';
import { clampRatio, hasSavedSettings, restoreData, restoreSettings, TABS, type SavedState, type Tab, type ViewData, type ViewSettings } from './state';
import { planCut, type CutPlan } from './threshold';
import { renderCompare } from './views/compare';
import { CRITERION_LABEL, renderHistogram } from './views/histogramChart';
import { renderLayerTable } from './views/layerTable';
import { renderSensitivity } from './views/sensitivity';
import { renderSummary } from './views/summary';
import { renderValidation } from './views/validation';

interface VsCodeApi {
  postMessage(message: FromWebview): void;
  getState(): unknown;
  setState(state: SavedState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const saved = vscode.getState();
const settings: ViewSettings = restoreSettings(saved);
// A first look starts from the configured amount and scope; after that, from what the user left.
let takeDefaults = !hasSavedSettings(saved);
let data: ViewData = restoreData(saved);
let busy: { label: string; progress?: number } | undefined;
let error: string | undefined;
/** The model could not be read: nothing is coming, whether or not the error is still shown. */
let unreadable = false;

const post = (message: FromWebview) => vscode.postMessage(message);

// ---- The page skeleton: built once, so controls keep their focus while the content re-renders.

const app = document.getElementById('app') ?? document.body;
const summary = h('div');
const status = h('div', { class: 'status', role: 'status' });
const controls = buildControls();
const panels = Object.fromEntries(TABS.map((t) => [t, h('div', { class: 'panel-body' })])) as Record<Tab, HTMLElement>;
const tabTitles: Record<Tab, string> = { layers: 'Layers', compare: 'Before / after', validation: 'Validation', sensitivity: 'Sensitivity' };
// Result tabs carry a badge with the headline number once their data arrives.
const tabBadges = Object.fromEntries(TABS.map((t) => [t, h('vscode-badge', { variant: 'counter', slot: 'content-after', hidden: true })])) as Record<Tab, HTMLElement>;
const tabs = h(
  'vscode-tabs',
  { 'selected-index': TABS.indexOf(settings.tab) },
  ...TABS.map((t) => h('vscode-tab-header', { slot: 'header' }, tabTitles[t], tabBadges[t])),
  ...TABS.map((t) => h('vscode-tab-panel', {}, panels[t])),
);
tabs.addEventListener('vsc-tabs-select', (e) => {
  settings.tab = TABS[(e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex] ?? 'layers';
  persist();
});
app.replaceChildren(summary, status, controls.root, tabs);

function buildControls() {
  const criterion = h(
    'vscode-single-select',
    { 'aria-label': 'Criterion' },
    ...PREVIEW_METHODS.map((c) => h('vscode-option', { value: c, selected: c === settings.criterion }, CRITERION_LABEL[c])),
  ) as HTMLElement & { value: string };
  criterion.addEventListener('change', () => update({ criterion: criterion.value as ViewSettings['criterion'] }));

  const slider = h('input', { type: 'range', min: 0.05, max: 0.95, step: 0.05, value: settings.ratio, 'aria-label': 'Pruning ratio' }) as HTMLInputElement;
  const ratioField = h('vscode-textfield', { type: 'number', min: 0.05, max: 0.95, step: 0.01, value: settings.ratio, class: 'ratio-field', 'aria-label': 'Pruning ratio' }) as HTMLElement & { value: string };
  slider.addEventListener('input', () => update({ ratio: clampRatio(Number(slider.value)) }));
  ratioField.addEventListener('change', () => update({ ratio: clampRatio(Number(ratioField.value)) }));

  const scope = h(
    'vscode-radio-group',
    { 'aria-label': 'Scope' },
    h('vscode-radio', { name: 'scope', value: 'local', checked: settings.scope === 'local', title: 'Every layer loses the same fraction of its channels' }, 'local'),
    h('vscode-radio', { name: 'scope', value: 'global', checked: settings.scope === 'global', title: 'One threshold over all layers: weak layers lose more' }, 'global'),
  );
  scope.addEventListener('change', (e) => {
    const radio = e.target as HTMLElement & { value: string; checked: boolean };
    if (radio.checked) update({ scope: radio.value as ViewSettings['scope'] });
  });

  const total = h('span', { class: 'cut-total' });
  const prune = h('vscode-button', { title: 'Prune with these settings (asks for confirmation)' }, 'Prune…');
  prune.addEventListener('click', requestPrune);

  const root = h(
    'section',
    { class: 'controls' },
    h('label', {}, 'Criterion', criterion),
    h('label', {}, 'Ratio', slider, ratioField),
    h('div', { class: 'control' }, h('span', {}, 'Scope'), scope),
    total,
    prune,
  );
  return { root, criterion, slider, ratioField, total, prune };
}

function canPrune(plan = currentPlan()): boolean {
  return plan !== undefined && plan.layers.size > 0 && busy === undefined;
}

function requestPrune(): void {
  // A disabled vscode-button still receives programmatic clicks; check again.
  if (canPrune()) post({ type: 'requestPrune', ratio: settings.ratio, scope: settings.scope, criterion: settings.criterion });
}

// ---- Rendering.

function currentPlan(): CutPlan | undefined {
  const d = data.defaults;
  const options = d ? { normalizer: d.normalizer, maxRatio: d.maxRatio, roundTo: d.roundTo } : {};
  return data.table ? planCut(data.table.layers, settings.criterion, settings.ratio, settings.scope, data.frozen, options) : undefined;
}

function displayNames(): Map<string, string> {
  return new Map((data.table?.layers ?? []).map((l) => [l.name, l.displayName || l.name]));
}

function render(): void {
  const plan = currentPlan();
  // A result that arrived (or a toast's "Open Report") may have chosen the tab.
  const tabsElement = tabs as HTMLElement & { selectedIndex: number };
  if (tabsElement.selectedIndex !== TABS.indexOf(settings.tab)) tabsElement.selectedIndex = TABS.indexOf(settings.tab);
  summary.replaceChildren(renderSummary(data.table, data.sequenceLength, data.frozen, unreadable));
  renderStatus();
  renderControls(plan);
  renderLayers(plan);
  renderReports();
}

function renderStatus(): void {
  const parts: HTMLElement[] = [];
  if (busy) {
    const label = busy.progress === undefined ? busy.label : `${busy.label} (${formatPercent(busy.progress, 0)})`;
    parts.push(h('div', { class: 'busy' }, h('vscode-progress-ring'), h('span', {}, label)));
  }
  if (error) {
    const dismiss = h('vscode-button', { secondary: true }, 'Dismiss');
    dismiss.addEventListener('click', () => {
      error = undefined;
      renderStatus();
    });
    parts.push(h('div', { class: 'error', role: 'alert' }, h('span', {}, error), dismiss));
  }
  status.replaceChildren(...parts);
}

function renderControls(plan: CutPlan | undefined): void {
  controls.slider.value = String(settings.ratio);
  if (Number(controls.ratioField.value) !== settings.ratio) controls.ratioField.value = String(settings.ratio);
  if (controls.criterion.value !== settings.criterion) controls.criterion.value = settings.criterion;
  controls.prune.toggleAttribute('disabled', !canPrune(plan));
  // Without a model there is nothing to set up.
  controls.root.hidden = !plan;
  if (!plan) {
    controls.total.textContent = '';
    return;
  }
  let removed = 0;
  let total = 0;
  for (const cut of plan.layers.values()) {
    removed += cut.removed.length;
    total += cut.total;
  }
  const layers = data.table?.layers ?? [];
  const allFrozen = layers.length > 0 && layers.every((l) => data.frozen?.[l.name] !== undefined);
  controls.total.textContent =
    plan.layers.size === 0
      ? allFrozen
        ? `All ${layers.length} layers are frozen: a structured prune cannot cut any channel (reasons in the table)`
        : settings.criterion === 'bn-gamma'
          ? 'No layer that can be cut has a BatchNorm: choose L1 or L2'
          : 'No layer can be cut'
      : `would remove ${removed} of ${total} channels (${formatPercent(removed / Math.max(1, total))})`;
}

function renderLayers(plan: CutPlan | undefined): void {
  const table = data.table;
  if (!table || !plan) {
    panels.layers.replaceChildren(emptyState(unreadable
      ? 'No layers to show: the file could not be read as an ONNX model (the message above says why).'
      : 'Reading the model… its layers appear here.'));
    return;
  }
  if (table.layers.length === 0) {
    panels.layers.replaceChildren(emptyState('This model has no prunable layers (Conv, ConvTranspose, Gemm or MatMul with constant weights).'));
    return;
  }
  if (!table.layers.some((l) => l.name === settings.selectedLayer)) settings.selectedLayer = table.layers[0].name;
  const hadRowFocus = document.activeElement instanceof HTMLTableRowElement;
  const rows = sortRows(layerRows(table, plan, data.frozen, data.sequenceLength), settings.sortKey, settings.sortDirection);
  const selected = table.layers.find((l) => l.name === settings.selectedLayer);
  panels.layers.replaceChildren(
    h(
      'div',
      { class: 'layers-view' },
      renderLayerTable(rows, settings.sortKey, settings.sortDirection, settings.selectedLayer, { onSort: sortBy, onSelect: selectLayer }),
      renderHistogram(selected, settings.criterion, selected && plan.layers.get(selected.name), settings.histogramScale, (scale) => update({ histogramScale: scale }),
        selected && data.frozen?.[selected.name]),
    ),
  );
  // Re-rendering replaced the rows; keep keyboard users on the selected one.
  if (hadRowFocus) panels.layers.querySelector<HTMLElement>('tr[aria-selected="true"]')?.focus();
}

function renderReports(): void {
  const names = displayNames();
  const prune = data.prune;
  panels.compare.replaceChildren(
    prune
      ? renderCompare(prune.report, prune.after, names)
      : emptyState('Run Prune to compare channels, parameters and MACs before and after here.', canPrune() ? { label: 'Prune…', run: requestPrune } : undefined),
  );
  panels.validation.replaceChildren(
    data.validation
      ? renderValidation(data.validation, data.validation.outputShape ?? data.table?.outputs[0]?.shape)
      : emptyState('Run Validate Pruned Model to see accuracy, agreement and latency here.', prune && !busy ? { label: 'Validate', run: () => post({ type: 'requestValidate' }) } : undefined),
  );
  panels.sensitivity.replaceChildren(
    data.sensitivity && data.sensitivity.curves.length > 0
      ? renderSensitivity(data.sensitivity, names, settings.selectedLayer, selectLayer)
      : emptyState('Run Sensitivity Analysis to see how much each layer tolerates pruning.', data.table && !busy ? { label: 'Run sensitivity analysis', run: () => post({ type: 'requestSensitivity' }) } : undefined),
  );
  setBadge('compare', prune ? formatChange(prune.report.totals.paramsBefore, prune.report.totals.paramsAfter) : undefined);
  const v = data.validation;
  setBadge('validation', v ? (v.pruned.accuracy !== undefined ? formatPercent(v.pruned.accuracy, 1)
    : isClassifierOutput(v.outputShape ?? data.table?.outputs[0]?.shape) ? formatPercent(v.agreement, 1) : `cos ${formatCosine(v.cosine)}`) : undefined);
  setBadge('sensitivity', data.sensitivity ? String(data.sensitivity.curves.length) : undefined);
}

function setBadge(tab: Tab, text: string | undefined): void {
  tabBadges[tab].textContent = text ?? '';
  tabBadges[tab].hidden = text === undefined;
}

// ---- State changes.

function persist(): void {
  vscode.setState({ settings, data });
}

function update(change: Partial<ViewSettings>): void {
  Object.assign(settings, change);
  persist();
  render();
}

function sortBy(key: SortKey): void {
  // A second click on the same column flips it; a new column starts with the largest first, except names.
  const direction = key === settings.sortKey ? (settings.sortDirection === 'asc' ? 'desc' : 'asc') : key === 'displayName' || key === 'op' || key === 'index' ? 'asc' : 'desc';
  update({ sortKey: key, sortDirection: direction });
}

function selectLayer(layer: string): void {
  if (layer === settings.selectedLayer) return;
  update({ selectedLayer: layer });
  post({ type: 'selectLayer', layer });
}

/**
 * A result the user has not seen yet brings its tab forward. The extension resends
 * everything when the webview reloads; an unchanged result leaves the user's tab alone.
 */
function showIfNew(tab: Tab, before: unknown, after: unknown): void {
  if (JSON.stringify(before) !== JSON.stringify(after)) settings.tab = tab;
}

/** A new prune result: the controls show what it used (one step with an amount), so the preview matches the result. */
function followPrune(report: PruneReport): void {
  const step = report.steps?.length === 1 ? report.steps[0] : undefined;
  if (!step || step.amount === undefined || !(step.amount > 0)) return;
  settings.ratio = clampRatio(step.amount);
  if (step.scope) settings.scope = step.scope;
  if (isOneOf(PREVIEW_METHODS, step.method)) settings.criterion = step.method;
  takeDefaults = false;
}

function receive(message: ToWebview): void {
  switch (message.type) {
    case 'model':
      unreadable = false;
      // Reports describe one model; a different file makes them stale.
      data = message.table.file === data.table?.file ? { ...data, table: message.table } : { table: message.table };
      data.frozen = message.frozen;
      data.sequenceLength = message.sequenceLength;
      data.defaults = message.defaults;
      if (takeDefaults && message.defaults) {
        settings.ratio = clampRatio(message.defaults.ratio);
        settings.scope = message.defaults.scope;
        takeDefaults = false;
      }
      break;
    case 'pruneReport':
      if (JSON.stringify(data.prune?.report) !== JSON.stringify(message.report)) followPrune(message.report);
      showIfNew('compare', data.prune?.report, message.report);
      data.prune = { report: message.report, after: message.after };
      break;
    case 'validation':
      showIfNew('validation', data.validation, message.report);
      data.validation = message.report;
      break;
    case 'sensitivity':
      showIfNew('sensitivity', data.sensitivity, message.report);
      data.sensitivity = message.report;
      break;
    case 'busy':
      busy = { label: message.label, progress: message.progress };
      break;
    case 'idle':
      busy = undefined;
      break;
    case 'error':
      error = message.message;
      if (!data.table) unreadable = true;
      busy = undefined;
      break;
    case 'selectLayer':
      settings.selectedLayer = message.layer;
      break;
    case 'showTab':
      if (TABS.includes(message.tab)) settings.tab = message.tab;
      break;
    default:
      return; // an unknown message from a newer extension: ignore it
  }
  persist();
  render();
}

window.addEventListener('message', (event: MessageEvent<ToWebview | EncodedMessage>) => receive(decodeToWebview(event.data)));
render();
post({ type: 'ready' });
