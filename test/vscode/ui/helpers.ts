// Steps that several UI tests share: answering the QuickPick/InputBox flow,
// finding a notification wherever the workbench put it, and the models view.
import type { Locator } from 'playwright-core';
import { openWorkbench, type Workbench } from '../../../scripts/vscode/workbench';

export const VIEW = 'Pruning: Models';

/** Answers the open QuickPick or InputBox: types `text` (if any) and presses Enter. */
export async function answer(wb: Workbench, text?: string, expectTitle?: RegExp): Promise<void> {
  const widget = wb.page.locator('.quick-input-widget');
  await widget.waitFor({ state: 'visible' });
  if (expectTitle) await wb.page.locator('.quick-input-title').filter({ hasText: expectTitle }).waitFor();
  const input = widget.locator('input.input, .quick-input-box input').first();
  if (text !== undefined) {
    await input.fill(text);
    // Let the list filter before Enter picks its first row.
    await wb.page.waitForTimeout(300);
  }
  await wb.page.keyboard.press('Enter');
  await wb.page.waitForTimeout(400);
}

/**
 * Opens a workbench once Prune Lens's contributions are in: the explorer lists
 * files before the extension host has registered our menus and views.
 */
export async function openWithPruneLens(): Promise<Workbench> {
  const wb = await openWorkbench();
  await wb.page.locator('.pane-header').filter({ hasText: VIEW }).waitFor({ timeout: 60_000 });
  return wb;
}

/**
 * The notification whose text matches, within `timeout`. A toast when the workbench shows one;
 * headless chromium often files it straight into the notification center, so look there too.
 * On timeout, the error lists the notifications there are (an error toast says what went wrong).
 */
export async function notification(wb: Workbench, text: RegExp, timeout = 60_000): Promise<Locator> {
  const toast = wb.page.locator('.notifications-toasts .notification-toast').filter({ hasText: text }).first();
  const item = wb.page.locator('.notifications-center .notification-list-item').filter({ hasText: text }).first();
  const deadline = Date.now() + timeout;
  for (let round = 0; Date.now() < deadline; round++) {
    if (await toast.isVisible()) return toast;
    if (await item.isVisible()) return item;
    // Every few seconds, open the center (the bell) in case the toast went straight there.
    if (round % 5 === 4 && !(await wb.page.locator('.notifications-center').isVisible())) {
      await wb.page.locator('.statusbar-item').filter({ has: wb.page.locator('.codicon-bell, .codicon-bell-dot') }).first().click();
    }
    await wb.page.waitForTimeout(1000);
  }
  const all = await wb.page.locator('.notification-toast, .notification-list-item').allTextContents();
  throw new Error(`no notification matching ${text} within ${timeout} ms; notifications: ${JSON.stringify(all)}`);
}

/** The models view, expanded (it starts collapsed below the file list). */
export async function modelsView(wb: Workbench): Promise<Locator> {
  const header = wb.page.locator('.pane-header').filter({ hasText: VIEW });
  if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
  return wb.viewRows(VIEW);
}
