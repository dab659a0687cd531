// "Apply Pruning Plan" (palette, CodeLens) and "Generate Plan from Model".

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PrunePlan } from '../../pruning/plan/types';
import type { PruneReport } from '../../pruning/report';
import { log } from '../log';
import { resolveModel, resolvePlan } from '../pick';
import { askOutput } from '../prompts';
import { modelForPlan, planFromRequest } from '../pruneOps';
import { runPlanJob } from '../runPlanJob';
import type { Services } from '../services';
import { readSettings } from '../settings';
import { allowPath } from '../trust';
import { guard, isOptions } from '../guard';

export interface ApplyPlanOptions {
  /** The model to prune; by default the *.onnx with the plan's stem next to it. */
  model?: string;
  /** Output path; by default the plan's `output` pattern, or `<name>.pruned.onnx`. */
  output?: string;
  overwrite?: boolean;
}

export function applyPlanCommand(services: Services) {
  return (arg?: unknown, optionsArg?: unknown) => {
    const options = isOptions(optionsArg) ? (optionsArg as ApplyPlanOptions) : undefined;
    return guard('Apply Pruning Plan', options !== undefined, async (): Promise<PruneReport | undefined> => {
      const planUri = await resolvePlan(arg);
      if (!planUri) return undefined;
      const planFile = planUri.fsPath;
      // Unsaved edits are what the user sees, so they are what runs.
      const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === planUri.toString());
      const { parsePlanText, outputPathFor } = await import('../../pruning/plan');
      const text = open ? open.getText() : await fs.promises.readFile(planFile, 'utf8');
      const plan = parsePlanText(text, planFile);

      const modelFile = options?.model ? path.resolve(path.dirname(planFile), options.model) : modelForPlan(planFile);
      if (!modelFile || !fs.existsSync(modelFile)) {
        throw new Error(`${path.basename(planFile)}: no model to prune; put it next to the plan with the same name (${path.basename(planFile).replace(/\.prune\.json$/i, '.onnx')})`);
      }
      const model = vscode.Uri.file(modelFile);
      // What the plan names (its output, its data files) is the workspace's choice: it must stay inside the workspace.
      const interactive = options === undefined;
      let suggested = outputPathFor(modelFile, plan.output, planFile);
      if (plan.output !== undefined && !options?.output) {
        const allowed = await allowPath(suggested, { what: 'output', from: `"output" of ${path.basename(planFile)}` }, { kind: 'save', interactive, near: model });
        if (!allowed) return undefined;
        suggested = allowed;
      }
      if (!(await allowPlanFiles(plan, planFile, interactive, model))) return undefined;
      let output: string;
      let overwrite = options?.overwrite === true;
      if (options) {
        output = options.output ? path.resolve(path.dirname(modelFile), options.output) : suggested;
        if (!overwrite && fs.existsSync(output)) throw new Error(`${output} already exists (pass overwrite: true to replace it)`);
      } else if (fs.existsSync(suggested)) {
        const answer = await askOutput(model, suggested, `Apply ${path.basename(planFile)}`);
        if (!answer) return undefined;
        ({ output, overwrite } = answer);
      } else {
        output = suggested;
      }

      log().info(`applying ${planFile} to ${modelFile} → ${output}`);
      const report = await runPlanJob(services, model, plan, {
        output, overwrite, baseDir: path.dirname(planFile), planFile, title: `applying ${path.basename(planFile)}`,
      });
      return report;
    });
  };
}

/**
 * Checks every file the plan's steps name (calibration data, masks, importance
 * scores) against the workspace; a file the user picks instead replaces the
 * name in `plan` (as an absolute path). False when the user backs out.
 */
async function allowPlanFiles(plan: PrunePlan, planFile: string, interactive: boolean, near: vscode.Uri): Promise<boolean> {
  const base = path.dirname(planFile);
  for (const [i, step] of plan.steps.entries()) {
    const allow = async (name: string, what: string): Promise<string | undefined> =>
      allowPath(path.resolve(base, name), { what, from: `step ${i + 1} of ${path.basename(planFile)}` }, { kind: 'open', interactive, near });
    if (step.calibration) {
      const data = await allow(step.calibration.data, 'calibration data');
      if (!data) return false;
      if (data !== path.resolve(base, step.calibration.data)) step.calibration = { ...step.calibration, data };
    }
    for (const key of ['mask', 'importance'] as const) {
      const spec = step[key];
      if (spec === undefined) continue;
      const names: Record<string, string> = typeof spec === 'string' ? { '': spec } : { ...spec };
      for (const [layer, name] of Object.entries(names)) {
        const file = await allow(name, key === 'mask' ? 'mask' : 'importance scores');
        if (!file) return false;
        if (file !== path.resolve(base, name)) names[layer] = file;
      }
      step[key] = typeof spec === 'string' ? names[''] : names;
    }
  }
  return true;
}

export interface GeneratePlanOptions {
  /** Where to write the plan; by default `<model stem>.prune.json` next to the model. */
  output?: string;
  overwrite?: boolean;
  /** Open the plan in an editor (default true). */
  open?: boolean;
}

/**
 * Writes a starter plan: one step with the default method and amount, the
 * last layer (the classifier, whose outputs are the model's) left out.
 */
export function generatePlanCommand(services: Services) {
  return (arg?: unknown, optionsArg?: unknown) => {
    const options = isOptions(optionsArg) ? (optionsArg as GeneratePlanOptions) : undefined;
    return guard('Generate Plan', options !== undefined, async (): Promise<vscode.Uri | undefined> => {
      const model = await resolveModel(services, arg, 'Generate Plan from Model');
      if (!model) return undefined;
      const s = readSettings(model);
      const table = await services.cache.get(model);
      const last = table.layers[table.layers.length - 1];
      const plan = {
        description: `Starter plan for ${path.basename(model.fsPath)}: edit the steps, then "Apply plan".`,
        ...planFromRequest({
          method: s.defaultMethod,
          amount: s.defaultAmount,
          scope: s.defaultScope,
          structured: s.defaultStructured,
          ignore: last ? [last.displayName] : undefined,
        }),
      };
      const target = options?.output
        ? path.resolve(path.dirname(model.fsPath), options.output)
        : model.fsPath.replace(/\.onnx$/i, '.prune.json');
      if (fs.existsSync(target) && !options?.overwrite) {
        if (options) throw new Error(`${target} already exists (pass overwrite: true to replace it)`);
        const choice = await vscode.window.showWarningMessage(`${path.basename(target)} already exists. Replace it?`, { modal: true }, 'Replace', 'Open Existing');
        if (choice === 'Open Existing') await vscode.window.showTextDocument(vscode.Uri.file(target));
        if (choice !== 'Replace') return undefined;
      }
      const { writeAtomic } = await import('../../onnx/model');
      await writeAtomic(target, [Buffer.from(JSON.stringify(plan, null, 2) + '\n')]);
      log().info(`wrote starter plan ${target}`);
      const uri = vscode.Uri.file(target);
      if (options?.open !== false) await vscode.window.showTextDocument(uri);
      return uri;
    });
  };
}

