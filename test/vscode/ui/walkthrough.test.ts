// The "Get Started with Prune Lens" walkthrough as a user follows it: opened from the
// palette, each step's button clicked in turn: open the sample model, show its layers,
// prune it, validate it, read the report. Each step leaves a screenshot
// (walkthrough-<n>-<step>.png); walkthrough-1-rendered.png is the one in the README.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator } from 'playwright-core';
import { openWorkbench, uiSession, type Workbench } from '../../../scripts/vscode/workbench';

const VIEW = 'Pruning: Models';
const SAMPLE_DIR = 'prune-lens-sample';
const MODEL = 'digits_vgg_slim_s1e-2.onnx';
const PRUNED = 'digits_vgg_slim_s1e-2.pruned.onnx';

/** A toast, or (headless chromium often files it straight away) an entry of the notification center. */
async function notification(wb: Workbench, text: RegExp, timeout = 60_000, screenshot?: string): Promise<string> {
  const toast = await wb.waitForNotification(text, 5_000).catch(() => undefined);
  if (toast) {
    if (screenshot) await wb.screenshot(screenshot);
    return (await toast.textContent()) ?? '';
  }
  const item = wb.page.locator('.notifications-center .notification-list-item').filter({ hasText: text }).first();
  const deadline = Date.now() + timeout;
  while (!(await item.isVisible()) && Date.now() < deadline) {
    const center = wb.page.locator('.notifications-center');
    if (!(await center.isVisible())) {
      await wb.page.locator('.statusbar-item').filter({ has: wb.page.locator('.codicon-bell, .codicon-bell-dot') }).first().click();
    }
    await wb.page.waitForTimeout(1000);
  }
  await item.waitFor({ timeout: 5_000 });
  const text_ = (await item.textContent()) ?? '';
  if (screenshot) await wb.screenshot(screenshot);
  // Close the center with its bell again: Escape would also take the walkthrough back to the Welcome page.
  await wb.page.locator('.statusbar-item').filter({ has: wb.page.locator('.codicon-bell, .codicon-bell-dot') }).first().click();
  return text_;
}

/** Answers the open QuickPick or InputBox: types `text` (if any), waits for the title (if given), Enter. */
async function answer(wb: Workbench, text?: string, expectTitle?: RegExp): Promise<void> {
  const widget = wb.page.locator('.quick-input-widget');
  await widget.waitFor({ state: 'visible' });
  if (expectTitle) await wb.page.locator('.quick-input-title').filter({ hasText: expectTitle }).waitFor();
  const input = widget.locator('input.input, .quick-input-box input').first();
  // The walkthrough keeps the keyboard focus after running a step's command; the user clicks into the pick.
  await input.focus();
  if (text !== undefined) {
    await input.fill(text);
    await wb.page.waitForTimeout(300);
  }
  await wb.page.keyboard.press('Enter');
  await wb.page.waitForTimeout(400);
}

/** Picks the row of the open "Which model?" QuickPick for `name` in the sample folder. */
async function pickSampleModel(wb: Workbench, name: string): Promise<void> {
  const widget = wb.page.locator('.quick-input-widget');
  await widget.waitFor({ state: 'visible' });
  // The walkthrough takes the focus back after running a step's command: a pick that closed
  // on losing focus would vanish here before the user could answer it.
  await wb.page.waitForTimeout(1500);
  await widget.locator('input').first().fill(name);
  const row = widget
    .locator('.quick-input-list .monaco-list-row')
    .filter({ has: wb.page.locator('.label-name', { hasText: new RegExp(`^\\s*${name.replace(/\./g, '\\.')}\\s*$`) }) })
    .filter({ hasText: SAMPLE_DIR })
    .first();
  await row.click();
  await wb.page.waitForTimeout(400);
}

describe('the Get Started walkthrough', function () {
  this.timeout(300_000);
  let wb: Workbench;
  let page: Workbench['page'];
  const sampleDir = () => path.join(uiSession().server.workspace, SAMPLE_DIR);

  before(async () => {
    fs.rmSync(sampleDir(), { recursive: true, force: true });
    wb = await openWorkbench();
    page = wb.page;
    await page.locator('.pane-header').filter({ hasText: VIEW }).waitFor({ timeout: 60_000 });
  });
  after(async () => {
    await wb?.close();
  });

  const walkthrough = () => page.locator('.gettingStartedContainer');
  /** A step of the walkthrough, by its title. */
  const step = (title: string): Locator => walkthrough().locator('.getting-started-step').filter({ hasText: title }).first();

  /** Opens the walkthrough from the palette (or brings it forward). */
  async function openWalkthrough(): Promise<void> {
    await wb.runCommand('Welcome: Open Walkthrough...');
    await answer(wb, 'Get Started with Prune Lens');
    await step('Open a sample model').waitFor();
  }

  /** Brings the walkthrough forward, expands the step titled `title` and clicks its button `button`. */
  async function runStep(title: string, button: string): Promise<void> {
    const s = step(title);
    if (!(await s.isVisible())) await openWalkthrough();
    await s.waitFor();
    if (!((await s.getAttribute('class')) ?? '').includes('expanded')) await s.locator('.step-title').first().click();
    await s.locator('.monaco-button, .button-link', { hasText: button }).first().click();
  }

  it('renders its five steps in the workbench', async () => {
    await openWalkthrough();
    await walkthrough().locator('.getting-started-category', { hasText: 'Get Started with Prune Lens' }).first().waitFor({ state: 'attached' });
    const titles = ['Open a sample model', 'Look at its layers', 'Prune it', 'Validate it', 'Read the report'];
    for (const t of titles) await step(t).waitFor();
    await page.waitForTimeout(1000); // the step's media fades in
    await wb.screenshot('walkthrough-1-rendered');
  });

  it('"Open Sample Model" copies the sample into the workspace and shows it', async () => {
    await runStep('Open a sample model', 'Open Sample Model');
    await notification(wb, /Copied the sample model to prune-lens-sample/);
    for (const f of [MODEL, 'digits_val_x.npy', 'digits_val_y.npy']) assert.ok(fs.existsSync(path.join(sampleDir(), f)), `no ${f} in ${sampleDir()}`);
    await wb.explorerRow(SAMPLE_DIR).waitFor();
    await wb.screenshot('walkthrough-2-sample-opened');
  });

  it('"Show Models View" shows the layers of the models', async () => {
    await runStep('Look at its layers', 'Show Models View');
    const header = page.locator('.pane-header').filter({ hasText: VIEW });
    await header.and(page.locator('[aria-expanded="true"]')).waitFor();
    await wb.viewRows(VIEW).first().waitFor();
    await wb.screenshot('walkthrough-3-models-view');
  });

  it('"Prune Model…" prunes the sample next to it', async () => {
    await runStep('Prune it', 'Prune Model…');
    await pickSampleModel(wb, MODEL);
    await answer(wb, 'Structured', /1\/7/);
    await answer(wb, 'BatchNorm', /2\/7/);
    await answer(wb, '50%', /3\/7/);
    await answer(wb, 'Global', /4\/7/);
    await answer(wb, undefined, /5\/8/); // a global structured prune asks how layers compare: mean, the default
    await answer(wb, undefined, /6\/8/); // recovery: None, the default
    await answer(wb, undefined, /7\/8/); // ignore none
    await answer(wb, undefined, /8\/8/); // default output name
    const text = await notification(wb, /Pruned digits_vgg_slim_s1e-2\.onnx/, 60_000, 'walkthrough-4-pruned');
    assert.match(text, /→ digits_vgg_slim_s1e-2\.pruned\.onnx \(removed \d+ channels in \d+ groups? \(\d+ frozen\)(, \d+ more kept by round_to)?; params −\d+(\.\d)?%, MACs −\d+(\.\d)?%\)/);
    assert.ok(fs.existsSync(path.join(sampleDir(), PRUNED)), `no ${PRUNED} in ${sampleDir()}`);
  });

  it('"Validate Pruned Model" runs the pruned sample against its original with onnxruntime', async () => {
    await runStep('Validate it', 'Validate Pruned Model');
    await pickSampleModel(wb, PRUNED);
    // The data for the original: its own held-out digits, offered first (unless a setting already names data that fits).
    const dataPick = page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'digits_val_x.npy' }).first();
    if (await dataPick.waitFor({ timeout: 10_000 }).then(() => true, () => false)) await answer(wb);
    const text = await notification(wb, /Validated digits_vgg_slim_s1e-2\.pruned\.onnx/, 120_000, 'walkthrough-5-validated');
    assert.match(text, /top-1 agreement \d+(\.\d)?%.*× speed on cpu, \d+ samples/);
  });

  it('"Show Layer Report" opens the report of the sample', async () => {
    await runStep('Read the report', 'Show Layer Report');
    await pickSampleModel(wb, MODEL);
    const frame = wb.webviewFrame();
    await frame.locator('table.layers tbody tr').first().waitFor({ timeout: 60_000 });
    assert.equal(await frame.locator('table.layers tbody tr').count(), 6);
    await wb.screenshot('walkthrough-6-report');
    // Back on the walkthrough, every step is ticked off.
    await openWalkthrough();
    for (const t of ['Open a sample model', 'Look at its layers', 'Prune it', 'Validate it', 'Read the report']) {
      await step(t).locator('[role="checkbox"][aria-checked="true"], .codicon.complete').first().waitFor();
    }
    await page.waitForTimeout(800);
    await wb.screenshot('walkthrough-7-done');
  });
});
