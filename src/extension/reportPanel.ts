// The report webview's host side: a panel per model ("Show Layer Report") and
// a read-only custom editor for *.onnx ("Open With… → Prune Lens Report").
// Both bind a webview to a model through a ReportSession, which sends plain
// data per src/protocol.ts and answers the webview's requests by running our
// commands. The webview never reads files.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LayerTable } from '../analysis/types';
import { isFromWebview, type FromWebview, type Scope, type ToWebview } from '../protocol';
import type { PreviewMethod } from '../pruning/methods';
import type { PruneReport, SensitivityReport } from '../pruning/report';
import type { ValidationReport } from '../validation/report';
import { carriesTable, encodeInSlices } from './report/encode';
import { createNonce, reportHtml } from './report/html';
import { errorMessage, isCancellation, log } from './log';
import type { ModelCache } from './modelCache';
import { sequenceLength } from './sequence';
import { defaultOutputPath, readSettings } from './settings';
import { readReportFor } from './pruneOps';

export const REPORT_EDITOR_VIEW_TYPE = 'pruneLens.report';
const PANEL_VIEW_TYPE = 'pruneLens.reportPanel';

export interface ShowOptions {
  layer?: string;
  /** The tab to bring forward (a validation toast's "Open Report" opens the Validation tab). */
  tab?: 'layers' | 'compare' | 'validation' | 'sensitivity';
  report?: PruneReport;
  validation?: ValidationReport;
  sensitivity?: SensitivityReport;
}

/** Long work shown in a model's open reports: its status line, until done(). */
export interface ShownProgress {
  report(message: string, fraction?: number): void;
  done(): void;
}

/** One webview showing one model. */
class ReportSession implements vscode.Disposable {
  private report?: PruneReport;
  private after?: LayerTable;
  private validation?: ValidationReport;
  private sensitivity?: SensitivityReport;
  /** The status line of work running for this model, re-sent when the webview reloads. */
  private working?: { label: string; progress?: number };
  private layer?: string;
  private readonly subscriptions: vscode.Disposable[] = [];
  private outbox: Promise<void> = Promise.resolve();

  constructor(
    readonly model: vscode.Uri,
    readonly panel: vscode.WebviewPanel,
    private readonly cache: ModelCache,
    extensionUri: vscode.Uri,
    onDispose: () => void,
  ) {
    const webview = panel.webview;
    webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
    };
    webview.html = reportHtml({
      cspSource: webview.cspSource,
      nonce: createNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'report.css')).toString(),
      title: `Prune Lens: ${path.basename(model.fsPath)}`,
    });
    this.subscriptions.push(
      webview.onDidReceiveMessage((m) => void this.receive(m)),
      // The MACs are counted at an input size from the settings: show the new count.
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (['assumedInputShape', 'validation.data', 'calibration.data', 'sequenceLength'].some((k) => e.affectsConfiguration(`pruneLens.${k}`, model))) void this.sendAll();
      }),
      panel.onDidDispose(() => {
        onDispose();
        this.dispose();
      }),
    );
  }

  update(options: ShowOptions): void {
    if (options.report) void this.setReport(options.report);
    if (options.validation) this.setValidation(options.validation);
    if (options.sensitivity) this.setSensitivity(options.sensitivity);
    if (options.layer) {
      this.layer = options.layer;
      this.post({ type: 'selectLayer', layer: options.layer });
    }
    if (options.tab) this.post({ type: 'showTab', tab: options.tab });
  }

  async setReport(report: PruneReport): Promise<void> {
    this.report = report;
    this.after = await this.cache.get(vscode.Uri.file(report.output)).catch(() => undefined);
    this.post({ type: 'pruneReport', report, after: this.after });
  }

  setValidation(report: ValidationReport): void {
    this.validation = report;
    this.post({ type: 'validation', report });
  }

  setSensitivity(report: SensitivityReport): void {
    this.sensitivity = report;
    this.post({ type: 'sensitivity', report });
  }

  setWorking(working: { label: string; progress?: number } | undefined): void {
    this.working = working;
    this.post(working ? { type: 'busy', ...working } : { type: 'idle' });
  }

  /** Messages go out in order; those that carry layer tables are encoded a slice at a time first (report/encode.ts). */
  private post(message: ToWebview): void {
    this.outbox = this.outbox
      .then(async () => {
        await this.panel.webview.postMessage(carriesTable(message) ? await encodeInSlices(message) : message);
      })
      .catch((e) => log().warn(`report: could not send '${message.type}' to the webview: ${errorMessage(e)}`));
  }

  private async receive(raw: unknown): Promise<void> {
    if (!isFromWebview(raw)) {
      log().warn(`report webview sent an unknown message: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    const msg: FromWebview = raw;
    switch (msg.type) {
      case 'ready':
        return this.sendAll();
      case 'selectLayer':
        this.layer = msg.layer;
        return;
      case 'requestPrune':
        return this.busy('Pruning…', () => this.prune(msg.ratio, msg.scope, msg.criterion));
      case 'requestValidate':
        return this.busy('Validating…', () => this.validate());
      case 'requestSensitivity':
        // The command shows its progress here (ReportPanels.progress), asks for data when no setting names it, and posts the curves back.
        await vscode.commands.executeCommand('pruneLens.sensitivity', this.model);
        return;
    }
  }

  /**
   * Layers the structured engine will not cut (the model's output, ops without a
   * rule), so the table's preview does not promise what a prune will not do.
   */
  private async frozenLayers(): Promise<Record<string, string> | undefined> {
    try {
      const groups = await this.cache.groups(this.model);
      const frozen: Record<string, string> = {};
      for (const [layer, g] of Object.entries(groups)) if (g.frozen) frozen[layer] = g.frozen;
      return frozen;
    } catch (e) {
      // The preview still works without it; the hover and the prune report give the reasons.
      log().warn(`report: channel groups of ${this.model.fsPath} unavailable: ${errorMessage(e)}`);
      return undefined;
    }
  }

  /** Everything the webview shows; sent on every 'ready' (the webview reloads when it is moved or hidden). */
  private async sendAll(): Promise<void> {
    let table: LayerTable;
    try {
      this.post({ type: 'busy', label: `Reading ${path.basename(this.model.fsPath)}…` });
      table = await this.cache.get(this.model);
    } catch (e) {
      this.post({ type: 'idle' });
      this.post({ type: 'error', message: errorMessage(e) });
      return;
    }
    this.post({ type: 'idle' });
    const s = readSettings(this.model);
    const defaults = { ratio: s.defaultAmount, scope: s.defaultScope, normalizer: s.normalizer, maxRatio: s.maxRatio, roundTo: s.defaultStructured ? s.roundTo : 1 };
    this.post({ type: 'model', table, frozen: await this.frozenLayers(), sequenceLength: sequenceLength(table, this.model), defaults });
    if (this.report) this.post({ type: 'pruneReport', report: this.report, after: this.after });
    if (this.validation) this.post({ type: 'validation', report: this.validation });
    if (this.sensitivity) this.post({ type: 'sensitivity', report: this.sensitivity });
    if (this.working) this.post({ type: 'busy', ...this.working });
    if (this.layer) this.post({ type: 'selectLayer', layer: this.layer });
  }

  private async busy(label: string, work: () => Promise<void>): Promise<void> {
    this.post({ type: 'busy', label });
    try {
      await work();
    } catch (e) {
      if (!isCancellation(e)) this.post({ type: 'error', message: errorMessage(e) });
    } finally {
      this.post({ type: 'idle' });
    }
  }

  private async prune(ratio: number, scope: Scope, method: PreviewMethod): Promise<void> {
    const s = readSettings(this.model);
    const how = `${method}, ${Math.round(ratio * 1000) / 10}%, ${scope}, ${s.defaultStructured ? 'structured' : 'unstructured'}`;
    const { askOutput } = await import('./prompts');
    const out = await askOutput(this.model, defaultOutputPath(this.model.fsPath, s.outputName, { method, amount: ratio }), `Prune ${path.basename(this.model.fsPath)} (${how})`);
    if (!out) return;
    // The command posts the report back to this session (postPruneReport).
    await vscode.commands.executeCommand('pruneLens.pruneModel', this.model, {
      method, amount: ratio, scope, structured: s.defaultStructured, output: out.output, overwrite: out.overwrite,
    });
  }

  private async validate(): Promise<void> {
    if (!this.report) {
      this.post({ type: 'error', message: 'Prune the model first: validation compares the pruned model with this one.' });
      return;
    }
    await vscode.commands.executeCommand('pruneLens.validate', vscode.Uri.file(this.report.output), { original: this.model.fsPath });
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}

export class ReportPanels implements vscode.CustomReadonlyEditorProvider, vscode.Disposable {
  private readonly sessions = new Map<string, Set<ReportSession>>();
  private readonly panels = new Map<string, ReportSession>();
  /** Work in progress per model, for sessions that open while it runs. */
  private readonly working = new Map<string, { label: string; progress?: number }>();

  constructor(private readonly extensionUri: vscode.Uri, private readonly cache: ModelCache) {}

  /** Opens (or reveals) the report panel of a model. */
  async show(model: vscode.Uri, options: ShowOptions = {}): Promise<vscode.WebviewPanel> {
    const key = model.toString();
    let session = this.panels.get(key);
    if (session) {
      session.panel.reveal(undefined, false);
    } else {
      const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, `Report: ${path.basename(model.fsPath)}`, vscode.ViewColumn.Active, {
        enableScripts: true,
        enableFindWidget: true,
      });
      session = this.attach(model, panel, () => this.panels.delete(key));
      this.panels.set(key, session);
      // A pruned model opened on its own still shows what was done to it.
      if (!options.report) {
        const report = await readReportFor(model.fsPath);
        if (report) options = { ...options, report };
      }
    }
    session.update(options);
    return session.panel;
  }

  postPruneReport(model: vscode.Uri, report: PruneReport): void {
    for (const s of this.sessions.get(model.toString()) ?? []) void s.setReport(report);
  }

  postValidation(model: vscode.Uri, report: ValidationReport): void {
    for (const s of this.sessions.get(model.toString()) ?? []) s.setValidation(report);
  }

  postSensitivity(model: vscode.Uri, report: SensitivityReport): void {
    for (const s of this.sessions.get(model.toString()) ?? []) s.setSensitivity(report);
  }

  /** Shows work on `model` in the status line of its open reports (and of those opened before it ends). */
  progress(model: vscode.Uri, title: string): ShownProgress {
    const key = model.toString();
    const each = (working: { label: string; progress?: number } | undefined) => {
      for (const s of this.sessions.get(key) ?? []) s.setWorking(working);
    };
    let current: { label: string; progress?: number } | undefined = { label: `${title}…` };
    this.working.set(key, current);
    each(current);
    return {
      report: (message, fraction) => {
        current = { label: `${title}: ${message}`, progress: fraction };
        this.working.set(key, current);
        each(current);
      },
      done: () => {
        if (this.working.get(key) === current) this.working.delete(key);
        each(undefined);
      },
    };
  }

  /** The model of the report webview that has focus, if one has (palette commands act on it). */
  activeModel(): vscode.Uri | undefined {
    for (const set of this.sessions.values()) for (const s of set) if (s.panel.active) return s.model;
    return undefined;
  }

  /** How many webviews show this model (tests read it). */
  openCount(model: vscode.Uri): number {
    return this.sessions.get(model.toString())?.size ?? 0;
  }

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    this.attach(document.uri, panel, () => undefined);
  }

  private attach(model: vscode.Uri, panel: vscode.WebviewPanel, onDispose: () => void): ReportSession {
    const key = model.toString();
    const set = this.sessions.get(key) ?? new Set<ReportSession>();
    this.sessions.set(key, set);
    const session: ReportSession = new ReportSession(model, panel, this.cache, this.extensionUri, () => {
      set.delete(session);
      if (set.size === 0) this.sessions.delete(key);
      onDispose();
    });
    set.add(session);
    const working = this.working.get(key);
    if (working) session.setWorking(working);
    return session;
  }

  dispose(): void {
    for (const set of this.sessions.values()) for (const s of set) s.panel.dispose();
    this.sessions.clear();
    this.panels.clear();
  }
}
