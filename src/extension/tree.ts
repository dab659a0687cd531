// The "Pruning: Models" view: every model in the workspace; a model expands to
// its layers, norms and embeddings, nested by module path (`layer1 › conv1`,
// `layers.0 › self_attn (8 heads, 2 kv, dim 16) › q_proj`). Nothing is parsed until
// a model is expanded; tooltips are built only when hovered (resolveTreeItem),
// so a model with thousands of layers costs one pass to build the tree.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LayerInfo, LayerKind, LayerTable } from '../analysis/types';
import { errorMessage, isCancellation, log, logError } from './log';
import { embeddingDescription, inputSizeNote, layerDescription, modelMacsDescription, normDescription } from './layerStats';
import type { ModelCache } from './modelCache';
import type { ModelIndex } from './modelIndex';
import { sequenceLength } from './sequence';
import { readSettings } from './settings';
import { attentionTooltip, embeddingTooltip, layerTooltip, normTooltip } from './tooltip';
import { countLayers, nestTable, type TreeNode } from './treeModel';

export type ModelTreeNode = TreeNode<vscode.Uri>;

const LAYER_ICONS: Record<LayerKind, string> = {
  Conv: 'symbol-array',
  ConvTranspose: 'symbol-interface',
  Gemm: 'symbol-field',
  MatMul: 'symbol-operator',
};

export class ModelTreeProvider implements vscode.TreeDataProvider<ModelTreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ModelTreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly modelNodes = new Map<string, ModelTreeNode>();
  /** What each model's description says about its MACs, as last shown (so a finished analysis updates it once). */
  private readonly macsShown = new Map<string, string | undefined>();
  /** The sentence on the input size for each model's tooltip (inputSizeNote), from the same analysis. */
  private readonly sizeNotes = new Map<string, string | undefined>();
  private readonly subscriptions: vscode.Disposable[] = [this.changed];

  constructor(private readonly index: ModelIndex, private readonly cache: ModelCache) {
    this.subscriptions.push(
      index.onDidChange(() => this.changed.fire(undefined)),
      index.onDidChangeFile((uri) => {
        cache.invalidate(uri);
        const node = this.modelNodes.get(uri.toString());
        if (node) this.changed.fire(node);
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        // Descriptions and tooltips show the gamma threshold and the default prune.
        if (e.affectsConfiguration('pruneLens')) this.changed.fire(undefined);
      }),
    );
  }

  refresh(): void {
    this.index.refresh();
  }

  async getChildren(node?: ModelTreeNode): Promise<ModelTreeNode[]> {
    if (!node) {
      const models = await this.index.list();
      return models.map((uri) => this.modelNode(uri));
    }
    if (node.kind === 'group') return node.children;
    if (node.kind !== 'model') return [];
    let table: LayerTable;
    try {
      table = await this.cache.get(node.uri);
    } catch (e) {
      if (isCancellation(e)) {
        // Not cached: a refresh (or the next hover) analyses it again.
        return [{ kind: 'message', uri: node.uri, label: 'Analysis cancelled', detail: 'Refresh the Models view to analyse this model again', error: false }];
      }
      logError(`analysing ${node.uri.fsPath}`, e);
      return [{ kind: 'message', uri: node.uri, label: 'Could not read this model', detail: errorMessage(e), error: true }];
    }
    this.showMacs(node, table);
    if (table.layers.length === 0) {
      return [{ kind: 'message', uri: node.uri, label: 'No prunable layers (Conv, ConvTranspose, Gemm, MatMul with constant weights)', error: false }];
    }
    return nestTable(node.uri, table);
  }

  getParent(node: ModelTreeNode): ModelTreeNode | undefined {
    return node.kind === 'model' ? undefined : this.modelNode(node.uri);
  }

  /**
   * A model's description gains its MACs and the input size they are at (or
   * that they are unknown) once it has been expanded: the tree parses nothing
   * to list models, so this updates the row when its analysis is done, and
   * again only when the text changes (a new size, a changed file).
   */
  private showMacs(node: ModelTreeNode, table: LayerTable): void {
    const key = node.uri.toString();
    const text = modelMacsDescription(table);
    const note = inputSizeNote(table);
    if (this.macsShown.has(key) && this.macsShown.get(key) === text && this.sizeNotes.get(key) === note) return;
    this.macsShown.set(key, text);
    this.sizeNotes.set(key, note);
    this.changed.fire(this.modelNode(node.uri));
  }

  getTreeItem(node: ModelTreeNode): vscode.TreeItem {
    switch (node.kind) {
      case 'model': {
        const item = new vscode.TreeItem(node.uri, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = node.uri.toString();
        item.contextValue = 'pruneLens.model';
        // The file's icon from the icon theme (a collapsible item with a resourceUri would get a folder's).
        item.iconPath = vscode.ThemeIcon.File;
        const dir = vscode.workspace.asRelativePath(path.dirname(node.uri.fsPath), false);
        const folder = dir === path.dirname(node.uri.fsPath) || dir === '.' ? undefined : dir;
        // Known once the model was expanded (showMacs): listing models reads none.
        const macs = this.macsShown.get(node.uri.toString());
        item.description = [folder, macs].filter(Boolean).join(' · ') || undefined;
        const note = this.sizeNotes.get(node.uri.toString());
        item.tooltip = note ? `${node.uri.fsPath}\n${note}` : node.uri.fsPath;
        return item;
      }
      case 'group': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `${node.uri.toString()}#${node.path}`;
        item.iconPath = new vscode.ThemeIcon(node.attention ? 'eye' : 'symbol-namespace');
        item.description = `${countLayers(node)} layers`;
        item.tooltip = node.path;
        item.contextValue = 'pruneLens.group';
        return item;
      }
      case 'norm': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.id = `${node.uri.toString()}#${node.norm.name}`;
        item.iconPath = new vscode.ThemeIcon('symbol-constant');
        item.description = normDescription(node.norm, readSettings(node.uri).gammaThreshold);
        item.contextValue = 'pruneLens.norm';
        return item;
      }
      case 'embedding': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.id = `${node.uri.toString()}#${node.embedding.name}`;
        item.iconPath = new vscode.ThemeIcon('symbol-key');
        item.description = embeddingDescription(node.embedding, node.tied);
        item.contextValue = 'pruneLens.embedding';
        return item;
      }
      case 'layer': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.id = `${node.uri.toString()}#${node.layer.name}`;
        item.iconPath = new vscode.ThemeIcon(LAYER_ICONS[node.layer.op]);
        item.description = layerDescription(node.layer, readSettings(node.uri).gammaThreshold);
        item.contextValue = 'pruneLens.layer';
        item.command = {
          command: 'pruneLens.showLayerReport',
          title: 'Show Layer Report',
          arguments: [node.uri, { layer: node.layer.name }],
        };
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon(node.error ? 'error' : 'info');
        item.description = node.detail;
        item.tooltip = node.detail;
        return item;
      }
    }
  }

  /** Builds a tooltip only when the user hovers the item. */
  async resolveTreeItem(item: vscode.TreeItem, node: ModelTreeNode): Promise<vscode.TreeItem> {
    if (node.kind === 'layer') item.tooltip = await this.tooltip(node.uri, node.layer);
    else if (node.kind === 'norm') item.tooltip = normTooltip(node.norm, readSettings(node.uri).gammaThreshold);
    else if (node.kind === 'embedding') item.tooltip = embeddingTooltip(node.embedding, await this.cache.get(node.uri));
    else if (node.kind === 'group' && node.attention) {
      const table = await this.cache.get(node.uri);
      item.tooltip = attentionTooltip(node.attention, table, sequenceLength(table, node.uri));
    }
    return item;
  }

  async tooltip(uri: vscode.Uri, layer: LayerInfo): Promise<vscode.MarkdownString> {
    return layerHover(this.cache, uri, layer);
  }

  /** One node object per model, so reveal() and refreshes find the same element. */
  private modelNode(uri: vscode.Uri): ModelTreeNode {
    const key = uri.toString();
    let node = this.modelNodes.get(key);
    if (!node) this.modelNodes.set(key, (node = { kind: 'model', uri }));
    return node;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}

/**
 * A layer's hover. The channel group comes from the structured engine; a model
 * it cannot build a graph for still gets its scores, with the reason shown and logged.
 */
export async function layerHover(cache: ModelCache, uri: vscode.Uri, layer: LayerInfo): Promise<vscode.MarkdownString> {
  const table = await cache.get(uri);
  const settings = readSettings(uri);
  const preview = settings.defaultStructured
    ? {
      method: settings.defaultMethod, scope: settings.defaultScope, ratio: settings.defaultAmount,
      normalizer: settings.normalizer, maxRatio: settings.maxRatio, roundTo: settings.roundTo,
    }
    : undefined;
  let groupError: string | undefined;
  const groups = await cache.groups(uri, preview).catch((e) => {
    groupError = errorMessage(e);
    log().warn(`channel groups of ${uri.fsPath}: ${groupError}`);
    return undefined;
  });
  return layerTooltip(layer, table, { settings, gammaThreshold: settings.gammaThreshold, group: groups?.[layer.name], groupError, sequenceLength: sequenceLength(table, uri) });
}

