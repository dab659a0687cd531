// A message for the report webview that carries a layer table, turned into
// UTF-8 JSON a slice at a time. A language model's table holds millions of
// per-channel norms (28 MB of JSON for a 1 GB model): the one JSON.stringify
// that postMessage would run holds the extension host for a quarter of a
// second, and the bytes cross to the webview without being looked at again
// (VS Code sends ArrayBuffer views as they are).

import { jsonPieces } from '../../analysis/jsonPieces';
import type { EncodedMessage, ToWebview } from '../../protocol';

/** How long one slice may run before the event loop gets a turn. */
const SLICE_MS = 8;

/** `message` as UTF-8 JSON parts; JSON.parse of their text is JSON.parse(JSON.stringify(message)). */
export async function encodeInSlices(message: ToWebview, sliceMs = SLICE_MS): Promise<EncodedMessage> {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  let text: string[] = [];
  let sliceStart = performance.now();
  for (const piece of jsonPieces(message)) {
    text.push(piece);
    if (performance.now() - sliceStart < sliceMs) continue;
    parts.push(encoder.encode(text.join('')));
    text = [];
    await new Promise((resolve) => setImmediate(resolve));
    sliceStart = performance.now();
  }
  parts.push(encoder.encode(text.join('')));
  return { type: 'encoded', parts };
}

/** Whether a message is worth encoding in slices: those that carry layer tables. */
export function carriesTable(message: ToWebview): boolean {
  return message.type === 'model' || (message.type === 'pruneReport' && message.after !== undefined);
}
