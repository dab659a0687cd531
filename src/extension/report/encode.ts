// A message for the report webview that carries a layer table, turned into
// UTF-8 JSON a slice at a time. A language model's table holds millions of
// per-channel norms (28 MB of JSON for a 1 GB model): the one JSON.stringify
// that postMessage would run holds the extension host for a quarter of a
// second, and the bytes cross to the webview without being looked at again
// (VS Code sends ArrayBuffer views as they are).

import type { EncodedMessage, ToWebview } from '../../protocol';

/** How long one slice may run before the event loop gets a turn. */
const SLICE_MS = 8;

/** `message` as UTF-8 JSON parts; JSON.parse of their text is JSON.parse(JSON.stringify(message)). */
export async function encodeInSlices(message: ToWebview, sliceMs = SLICE_MS): Promise<EncodedMessage> {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  let text: string[] = [];
  let sliceStart = performance.now();
  const pause = async () => {
    if (performance.now() - sliceStart < sliceMs) return;
    parts.push(encoder.encode(text.join('')));
    text = [];
    await new Promise((resolve) => setImmediate(resolve));
    sliceStart = performance.now();
  };
  // JSON.stringify's rules: undefined, functions and symbols are left out of objects and are null in arrays.
  const skipped = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';
  const write = async (value: unknown): Promise<void> => {
    const leaf = value === null || typeof value !== 'object' || typeof (value as { toJSON?: unknown }).toJSON === 'function'
      // Arrays of numbers or strings go whole: the cost is in their count, not their depth.
      || (Array.isArray(value) && (value.length === 0 || value[0] === null || typeof value[0] !== 'object'));
    if (leaf) {
      text.push(JSON.stringify(value) ?? 'null');
      return pause();
    }
    if (Array.isArray(value)) {
      text.push('[');
      for (let i = 0; i < value.length; i++) {
        if (i > 0) text.push(',');
        if (skipped(value[i])) text.push('null');
        else await write(value[i]);
      }
      text.push(']');
      return;
    }
    text.push('{');
    let first = true;
    for (const [key, v] of Object.entries(value)) {
      if (skipped(v)) continue;
      text.push(first ? '' : ',', JSON.stringify(key), ':');
      first = false;
      await write(v);
    }
    text.push('}');
  };
  await write(message);
  parts.push(encoder.encode(text.join('')));
  return { type: 'encoded', parts };
}

/** Whether a message is worth encoding in slices: those that carry layer tables. */
export function carriesTable(message: ToWebview): boolean {
  return message.type === 'model' || (message.type === 'pruneReport' && message.after !== undefined);
}
