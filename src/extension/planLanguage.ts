// Language features for pruning plans (*.prune.json): diagnostics (the plan's
// own checks, plus layer names checked against the model), completion and
// hovers for layer names, and an "Apply plan" CodeLens. The JSON schema comes
// from contributes.jsonValidation; this adds what needs the model.
//
// A plan names no model; it prunes the *.onnx with its stem next to it
// (see modelForPlan).

import * as path from 'node:path';
import * as jsonc from 'jsonc-parser';
import * as vscode from 'vscode';
import type { LayerInfo, LayerTable } from '../analysis/types';
import type { PlanIssue } from '../pruning/plan/types';
import { errorMessage } from './log';
import type { ModelCache } from './modelCache';
import { modelForPlan } from './pruneOps';
import { layerHover } from './tree';
import { editDistance } from '../pruning/match';

export const PLAN_SELECTOR: vscode.DocumentSelector = [
  { language: 'json', pattern: '**/*.prune.json' },
  { language: 'jsonc', pattern: '**/*.prune.json' },
];

/** Step properties whose strings (or string lists) name layers. */
const LAYER_LISTS = new Set(['layers', 'ignore']);

export function isPlanDocument(doc: vscode.TextDocument): boolean {
  return vscode.languages.match(PLAN_SELECTOR, doc) > 0;
}

/** `steps[i].layers[k]` or `steps[i].ignore[k]`: a layer reference. */
function isLayerPath(p: jsonc.JSONPath): boolean {
  return p.length >= 3 && p[0] === 'steps' && typeof p[1] === 'number' && LAYER_LISTS.has(String(p[2])) && (p.length === 3 || (p.length === 4 && typeof p[3] === 'number'));
}

export class PlanLanguage implements vscode.CompletionItemProvider, vscode.HoverProvider, vscode.CodeLensProvider, vscode.Disposable {
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('pruneLens.plan');
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.lensesChanged.event;
  private readonly subscriptions: vscode.Disposable[] = [this.diagnostics, this.lensesChanged];

  constructor(private readonly cache: ModelCache) {
    this.subscriptions.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.schedule(d, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document, 300)),
      vscode.workspace.onDidCloseTextDocument((d) => this.diagnostics.delete(d.uri)),
    );
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 0);
  }

  /** Model files changed: plans that prune them are checked again. */
  modelChanged(): void {
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 100);
    this.lensesChanged.fire();
  }

  private schedule(doc: vscode.TextDocument, delayMs: number): void {
    if (!isPlanDocument(doc)) return;
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      void this.check(doc);
    }, delayMs));
  }

  /** Computes and publishes the diagnostics of one plan; returns them (tests await this). */
  async check(doc: vscode.TextDocument): Promise<vscode.Diagnostic[]> {
    const version = doc.version;
    const text = doc.getText();
    const errors: jsonc.ParseError[] = [];
    const root = jsonc.parseTree(text, errors, { allowTrailingComma: false, disallowComments: true });
    // Syntax errors are the JSON language service's to report; checks need a parsed plan.
    if (errors.length || !root) {
      this.diagnostics.set(doc.uri, []);
      return [];
    }
    const value: unknown = jsonc.getNodeValue(root);
    const { validatePlan } = await import('../pruning/plan/validate');
    const out: vscode.Diagnostic[] = validatePlan(value).map((issue) => this.issueDiagnostic(doc, root, issue));

    const modelFile = modelForPlan(doc.uri.fsPath);
    if (!modelFile) {
      const expected = path.basename(doc.uri.fsPath).replace(/\.prune\.json$/i, '.onnx');
      out.push(diag(doc, root, `No model for this plan: put ${expected} next to it (a plan prunes the model with its name)`, vscode.DiagnosticSeverity.Warning));
    } else {
      try {
        const table = await this.cache.get(vscode.Uri.file(modelFile));
        out.push(...(await this.layerDiagnostics(doc, root, table, path.basename(modelFile))));
      } catch (e) {
        out.push(diag(doc, root, `Cannot read the model ${path.basename(modelFile)}: ${errorMessage(e)}`, vscode.DiagnosticSeverity.Error));
      }
    }
    // A newer edit has its own check on the way; do not overwrite it with stale results.
    if (doc.version === version && !doc.isClosed) this.diagnostics.set(doc.uri, out);
    return out;
  }

  private issueDiagnostic(doc: vscode.TextDocument, root: jsonc.Node, issue: PlanIssue): vscode.Diagnostic {
    // The deepest node of the path that exists (a missing key points at its object).
    let p = issue.path.slice();
    let node = jsonc.findNodeAtLocation(root, p);
    while (!node && p.length) {
      p = p.slice(0, -1);
      node = jsonc.findNodeAtLocation(root, p);
    }
    const severity = issue.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning;
    const d = new vscode.Diagnostic(rangeOf(doc, node ?? root), issue.message, severity);
    d.source = 'Prune Lens';
    return d;
  }

  private async layerDiagnostics(doc: vscode.TextDocument, root: jsonc.Node, table: LayerTable, modelName: string): Promise<vscode.Diagnostic[]> {
    const { matchesLayer } = await import('../pruning/match');
    const out: vscode.Diagnostic[] = [];
    const steps = jsonc.findNodeAtLocation(root, ['steps']);
    for (const [i, step] of (steps?.type === 'array' ? steps.children ?? [] : []).entries()) {
      for (const key of LAYER_LISTS) {
        const list = jsonc.findNodeAtLocation(step, [key]);
        for (const item of list?.type === 'array' ? list.children ?? [] : []) {
          if (item.type !== 'string') continue;
          const pattern = String(item.value);
          if (table.layers.some((l) => matchesLayer(pattern, l))) continue;
          const examples = closest(pattern, table.layers).join(', ');
          const d = new vscode.Diagnostic(
            rangeOf(doc, item),
            `step ${i + 1}: no layer of ${modelName} matches "${pattern}"${examples ? ` (did you mean ${examples}?)` : ''}`,
            key === 'ignore' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Error,
          );
          d.source = 'Prune Lens';
          d.code = 'unknown-layer';
          out.push(d);
        }
      }
    }
    return out;
  }

  async provideCompletionItems(doc: vscode.TextDocument, position: vscode.Position): Promise<vscode.CompletionItem[] | undefined> {
    const offset = doc.offsetAt(position);
    const location = jsonc.getLocation(doc.getText(), offset);
    if (location.isAtPropertyKey || !isLayerPath(location.path)) return undefined;
    const table = await this.tableFor(doc);
    if (!table) return undefined;
    // Inside a string: replace the whole string; between elements: insert a quoted one.
    const node = location.previousNode;
    const inString = node?.type === 'string' && offset > node.offset && offset < node.offset + node.length;
    const range = inString ? new vscode.Range(doc.positionAt(node.offset), doc.positionAt(node.offset + node.length)) : undefined;
    const items = table.layers.map((l, i) => {
      const item = new vscode.CompletionItem(l.displayName, vscode.CompletionItemKind.Field);
      item.detail = `${l.op} ${l.inChannels}→${l.outChannels}`;
      item.documentation = l.name !== l.displayName ? `node ${l.name}` : undefined;
      item.insertText = JSON.stringify(l.displayName);
      item.filterText = JSON.stringify(l.displayName);
      item.sortText = String(i).padStart(6, '0');
      if (range) item.range = range;
      return item;
    });
    // Globs for each module prefix (`layer1.*`), for pruning or ignoring a block at once.
    const prefixes = new Set<string>();
    for (const l of table.layers) {
      const parts = l.displayName.split('.');
      for (let k = 1; k < parts.length; k++) prefixes.add(`${parts.slice(0, k).join('.')}.*`);
    }
    for (const glob of prefixes) {
      const item = new vscode.CompletionItem(glob, vscode.CompletionItemKind.Folder);
      item.detail = 'every layer under this module';
      item.insertText = JSON.stringify(glob);
      item.filterText = JSON.stringify(glob);
      item.sortText = `z${glob}`;
      if (range) item.range = range;
      items.push(item);
    }
    return items;
  }

  async provideHover(doc: vscode.TextDocument, position: vscode.Position): Promise<vscode.Hover | undefined> {
    const root = jsonc.parseTree(doc.getText());
    const node = root && jsonc.findNodeAtOffset(root, doc.offsetAt(position));
    if (!node) return undefined;
    const amount = await amountHover(doc, node);
    if (amount) return amount;
    if (node.type !== 'string' || !isLayerPath(jsonc.getNodePath(node))) return undefined;
    const modelFile = modelForPlan(doc.uri.fsPath);
    const table = await this.tableFor(doc);
    if (!table || !modelFile) return undefined;
    const pattern = String(node.value);
    const { matchesLayer } = await import('../pruning/match');
    const matches = table.layers.filter((l) => matchesLayer(pattern, l));
    const range = rangeOf(doc, node);
    if (matches.length === 1) {
      return new vscode.Hover(await layerHover(this.cache, vscode.Uri.file(modelFile), matches[0]), range);
    }
    const md = new vscode.MarkdownString();
    md.appendMarkdown(matches.length
      ? `**${matches.length} layers** of ${path.basename(modelFile)} match \`${pattern}\`:\n\n${matches.map((l) => `- \`${l.displayName}\` ${l.op} ${l.inChannels}→${l.outChannels}`).join('\n')}`
      : `No layer of ${path.basename(modelFile)} matches \`${pattern}\``);
    return new vscode.Hover(md, range);
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const root = jsonc.parseTree(doc.getText());
    const steps = root && jsonc.findNodeAtLocation(root, ['steps']);
    const anchor = steps?.parent ?? root;
    const range = anchor ? rangeOf(doc, anchor).with({ end: doc.positionAt(anchor.offset) }) : new vscode.Range(0, 0, 0, 0);
    const modelFile = modelForPlan(doc.uri.fsPath);
    if (!modelFile) {
      return [new vscode.CodeLens(range, { title: 'No model next to this plan', command: '' })];
    }
    const model = vscode.Uri.file(modelFile);
    return [
      new vscode.CodeLens(range, { title: '$(play) Apply plan', command: 'pruneLens.applyPlan', arguments: [doc.uri], tooltip: `Prune ${path.basename(modelFile)} with this plan` }),
      new vscode.CodeLens(range, { title: `$(graph) ${path.basename(modelFile)}`, command: 'pruneLens.showLayerReport', arguments: [model], tooltip: 'Show the model\'s layer report' }),
    ];
  }

  private async tableFor(doc: vscode.TextDocument): Promise<LayerTable | undefined> {
    const modelFile = modelForPlan(doc.uri.fsPath);
    if (!modelFile) return undefined;
    try {
      return await this.cache.get(vscode.Uri.file(modelFile));
    } catch {
      return undefined;
    }
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const s of this.subscriptions) s.dispose();
  }
}

/** On a step's "amount" (key or value): which rounding rule applies to this step, with worked numbers. */
async function amountHover(doc: vscode.TextDocument, node: jsonc.Node): Promise<vscode.Hover | undefined> {
  const prop = node.parent?.type === 'property' ? node.parent : undefined;
  const p = prop ? jsonc.getNodePath(prop.children?.[1] ?? node) : [];
  if (!prop || p.length !== 3 || p[0] !== 'steps' || p[2] !== 'amount') return undefined;
  const step = prop.parent;
  const structured = step ? jsonc.getNodeValue(step)?.structured === true : false;
  const { amountRule, explainAmount } = await import('../pruning/plan/amount');
  const value = prop.children?.[1];
  const amount = value?.type === 'number' ? Number(value.value) : undefined;
  const md = new vscode.MarkdownString();
  md.appendMarkdown(amount !== undefined && amount >= 0 && amount <= 1 && !(structured && amount === 1)
    ? `**amount ${amount}** — ${explainAmount(amount, structured)}` : `**amount** — ${amountRule(structured)}`);
  return new vscode.Hover(md, rangeOf(doc, prop));
}

function rangeOf(doc: vscode.TextDocument, node: jsonc.Node): vscode.Range {
  return new vscode.Range(doc.positionAt(node.offset), doc.positionAt(node.offset + node.length));
}

function diag(doc: vscode.TextDocument, root: jsonc.Node, message: string, severity: vscode.DiagnosticSeverity): vscode.Diagnostic {
  // On the first line of the plan: the whole document would underline everything.
  const start = doc.positionAt(root.offset);
  const d = new vscode.Diagnostic(new vscode.Range(start, start.translate(0, 1)), message, severity);
  d.source = 'Prune Lens';
  return d;
}

/** Up to three layer names nearest to a mistyped one (edit distance), for "did you mean". */
function closest(pattern: string, layers: readonly LayerInfo[]): string[] {
  return layers
    .map((l) => ({ name: l.displayName, d: editDistance(pattern, l.displayName) }))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .filter((c) => c.d <= Math.max(3, pattern.length / 2))
    .map((c) => c.name);
}

