// Wanda and SparseGPT from the prune wizard on a language model, in the real
// workbench: with pruneLens.calibration.data set, the unstructured methods list
// both and say which data they will use; a SparseGPT 2:4 prune cancelled from
// its progress notification mid-way leaves no file; a Wanda 2:4 prune runs to
// the end and writes a model whose pruned layers keep 2 of every 4 weights.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { uiSession, type Workbench } from '../../../scripts/vscode/workbench';
import type { PruneReport } from '../../../src/pruning/report';
import { answer, notification, openWithPruneLens } from './helpers';

const MODEL = 'lm_gpt_licenses.onnx';
const OUTPUT = 'lm_gpt_licenses.pruned.onnx';
const SETTINGS = { 'pruneLens.calibration.data': 'lm_licenses_train_x.npy' };

describe('Wanda and SparseGPT in the prune wizard', function () {
  this.timeout(240_000);
  let wb: Workbench | undefined;
  let settingsFile: string;
  let hadSettings: string | undefined;
  const workspace = () => uiSession().server.workspace;
  const outputs = () => fs.readdirSync(workspace()).filter((f) => f.startsWith(OUTPUT) || f.startsWith(`.${OUTPUT}`));

  before(() => {
    settingsFile = path.join(workspace(), '.vscode', 'settings.json');
    hadSettings = fs.existsSync(settingsFile) ? fs.readFileSync(settingsFile, 'utf8') : undefined;
    const current = hadSettings ? (JSON.parse(hadSettings) as Record<string, unknown>) : {};
    fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
    fs.writeFileSync(settingsFile, JSON.stringify({ ...current, ...SETTINGS }, null, 2));
  });
  after(() => {
    if (hadSettings === undefined) fs.rmSync(settingsFile, { force: true });
    else fs.writeFileSync(settingsFile, hadSettings);
    for (const f of outputs()) fs.rmSync(path.join(workspace(), f), { force: true });
  });
  beforeEach(() => {
    for (const f of outputs()) fs.rmSync(path.join(workspace(), f), { force: true });
  });
  afterEach(async () => {
    await wb?.close();
    wb = undefined;
  });

  /** Explorer › Prune Model… on the model, unstructured, then `method` at 2:4, all layers, the default output name. */
  async function pruneNm(w: Workbench, method: RegExp, shot: string): Promise<void> {
    await w.explorerRow(MODEL).waitFor();
    await w.explorerRow(MODEL).click({ button: 'right' });
    const entry = w.page.locator('.monaco-menu .action-item').filter({ hasText: /^\s*Prune Model…\s*$/ }).first();
    await entry.waitFor();
    await entry.click();
    await answer(w, 'Unstructured', /1\/7/);
    // The method list: the calibrated methods say what they need and which data they will use.
    const rows = w.page.locator('.quick-input-list .monaco-list-row');
    for (const label of [/Wanda \(\|W\|·‖X‖\)/, /SparseGPT/]) {
      const row = rows.filter({ hasText: label }).first();
      await row.waitFor();
      const text = (await row.textContent()) ?? '';
      assert.match(text, /needs calibration data · lm_licenses_train_x\.npy/, text);
    }
    await w.screenshot(`calibrated-${shot}-1-methods`);
    const pick = rows.filter({ hasText: method }).first();
    await pick.click();
    await w.page.waitForTimeout(400);
    // The amount: a sparsity or an N:M pattern, and no scope question after it.
    await w.page.locator('.quick-input-widget').filter({ hasText: /N:M pattern \(2:4 keeps 2 of every 4 weights\)/ }).waitFor();
    await w.page.locator('.quick-input-widget input').first().fill('2:4');
    await w.screenshot(`calibrated-${shot}-2-nm`);
    await answer(w, undefined, /3\/5/);
    await answer(w, undefined, /4\/5/); // ignore none
    await answer(w, undefined, /5\/5/); // default output name
  }

  it('SparseGPT 2:4 on lm_gpt_licenses, cancelled from its notification mid-way, leaves no file', async () => {
    wb = await openWithPruneLens();
    await pruneNm(wb, /^\s*SparseGPT/, 'sparsegpt');
    // Headless chromium files notifications straight into the center: open it and watch there
    // (and the toasts), until the progress names a block of the calibrated step: mid-way.
    if (!(await wb.page.locator('.notifications-center').isVisible())) {
      await wb.page.locator('.statusbar-item').filter({ has: wb.page.locator('.codicon-bell, .codicon-bell-dot') }).first().click();
    }
    const progress = wb.page.locator('.notifications-center .notification-list-item, .notifications-toasts .notification-toast')
      .filter({ hasText: /pruning lm_gpt_licenses\.onnx.*block/ }).first();
    await progress.waitFor({ timeout: 120_000 });
    await wb.screenshot('calibrated-sparsegpt-3-progress');
    await progress.locator('.monaco-button').filter({ hasText: /^Cancel$/ }).first().click();
    await progress.waitFor({ state: 'hidden', timeout: 30_000 });
    // The notification goes at once; the job has settled when the status bar stops saying it runs.
    await wb.page.locator('.statusbar-item').filter({ hasText: /Prune Lens: pruning lm_gpt_licenses\.onnx/ }).waitFor({ state: 'hidden', timeout: 30_000 });
    await wb.screenshot('calibrated-sparsegpt-4-cancelled');
    assert.deepEqual(outputs(), []);
    // Nothing appears later either (a worker that was killed could have been mid-write).
    await wb.page.waitForTimeout(2000);
    assert.deepEqual(outputs(), []);
  });

  it('Wanda 2:4 on lm_gpt_licenses writes a model whose pruned layers keep 2 of every 4 weights', async () => {
    wb = await openWithPruneLens();
    await pruneNm(wb, /^\s*Wanda/, 'wanda');
    const toast = await notification(wb, /Pruned lm_gpt_licenses\.onnx → lm_gpt_licenses\.pruned\.onnx \(zeroed [\d,]+ weights/, 180_000);
    await wb.screenshot('calibrated-wanda-3-done');
    assert.match((await toast.textContent()) ?? '', /Open Report/);
    const report = JSON.parse(fs.readFileSync(path.join(workspace(), `${OUTPUT}.report.json`), 'utf8')) as PruneReport;
    assert.equal(report.method, 'wanda');
    assert.equal(report.structured, false);
    // Every MatMul of the 4 blocks (q, k, v, o, fc, proj) and the tied lm_head's copy.
    const pruned = report.layers.filter((l) => (l.zerosAfter ?? 0) > (l.zerosBefore ?? 0));
    assert.equal(pruned.length, 25);
    // 2:4 zeroes exactly half of each layer's weights (the GPT's MatMuls have no bias among their params).
    for (const l of pruned) assert.equal(l.zerosAfter! * 2, l.paramsBefore, `${l.layer}: ${l.zerosAfter} of ${l.paramsBefore}`);
  });
});
