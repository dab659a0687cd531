// What the commands, providers and panels share. Built once in activate();
// each piece is cheap until first used.

import * as vscode from 'vscode';
import type { WorkerJobs } from './jobs';
import type { ModelCache } from './modelCache';
import type { ModelIndex } from './modelIndex';
import type { ReportPanels } from './reportPanel';
import type { ModelTreeNode, ModelTreeProvider } from './tree';

export interface Services {
  context: vscode.ExtensionContext;
  index: ModelIndex;
  cache: ModelCache;
  tree: ModelTreeProvider;
  treeView: vscode.TreeView<ModelTreeNode>;
  reports: ReportPanels;
  /** The worker process for pruning, sensitivity and validation (started on first use). */
  jobs: WorkerJobs;
}

/** The extension's exports: what host tests reach through `getExtension(...).exports`. */
export interface PruneLensApi {
  services: Services;
}
