// "Show Layer Report": the report webview of a model, optionally focused on one layer.

import * as vscode from 'vscode';
import { resolveModel } from '../pick';
import type { Services } from '../services';
import { guard, isOptions } from '../guard';

export interface ShowReportOptions {
  /** Layer to select (node name or module path). */
  layer?: string;
}

export function showReportCommand(services: Services) {
  return (arg?: unknown, optionsArg?: unknown) => {
    const options = isOptions(optionsArg) ? (optionsArg as ShowReportOptions) : undefined;
    return guard('Show Layer Report', false, async (): Promise<vscode.Uri | undefined> => {
      const model = await resolveModel(services, arg, 'Show Layer Report');
      if (!model) return undefined;
      await services.reports.show(model, { layer: options?.layer });
      return model;
    });
  };
}
