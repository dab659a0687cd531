// The one message protocol between the extension and the report webview.
// Both sides import these types; every payload is plain JSON (postMessage
// clones it), so it holds only the shared report types and primitives.

import type { LayerTable } from './analysis/types';
import { isOneOf, PREVIEW_METHODS, type PreviewMethod } from './pruning/methods';
import type { Normalizer } from './pruning/normalize';
import type { PruneReport, SensitivityReport } from './pruning/report';
import type { ValidationReport } from './validation/report';

/** local: each layer loses `ratio` of its own channels; global: one threshold across all layers. */
export type Scope = 'local' | 'global';
export const SCOPES: readonly Scope[] = ['local', 'global'];

/**
 * How a prune from the report runs: the settings' amount and scope (where the
 * slider starts) and the structured step's normalizer, max_ratio and round_to
 * (so the preview cuts what the engine will).
 */
export interface PruneDefaults {
  ratio: number;
  scope: Scope;
  normalizer: Normalizer;
  maxRatio: number;
  roundTo: number;
}

/** Extension → webview. */
export type ToWebview =
  /** The model's analysis. Replaces everything shown before (reports of another model are dropped). */
  | {
      type: 'model';
      table: LayerTable;
      /** Layers whose output channels the structured engine will not cut (layer name → reason). */
      frozen?: Record<string, string>;
      /** Tokens per sample for a language model's MACs (the setting, or the sample data's length). */
      sequenceLength?: number;
      defaults?: PruneDefaults;
    }
  /** The result of a prune; `after` is the pruned model's analysis when the extension has it. */
  | { type: 'pruneReport'; report: PruneReport; after?: LayerTable }
  | { type: 'validation'; report: ValidationReport }
  | { type: 'sensitivity'; report: SensitivityReport }
  /** Long work in progress; `progress` is a fraction in [0, 1] when known. */
  | { type: 'busy'; label: string; progress?: number }
  /** The work announced by 'busy' ended (successfully or not). */
  | { type: 'idle' }
  | { type: 'error'; message: string }
  /** The user picked a layer elsewhere (tree, hover); the webview follows. */
  | { type: 'selectLayer'; layer: string }
  /** Bring a tab forward (a result opened from its toast). */
  | { type: 'showTab'; tab: 'layers' | 'compare' | 'validation' | 'sensitivity' };

/**
 * A ToWebview message as UTF-8 JSON, in parts: how the extension sends the
 * messages that carry layer tables (extension/report/encode.ts), built a slice
 * at a time so that a language model's millions of norms never hold the
 * extension host at once. VS Code passes the bytes through untouched.
 */
export interface EncodedMessage {
  type: 'encoded';
  parts: (Uint8Array | ArrayBuffer)[];
}

/** The message an EncodedMessage holds, or the message itself. */
export function decodeToWebview(message: ToWebview | EncodedMessage): ToWebview {
  if (message.type !== 'encoded') return message;
  const decoder = new TextDecoder();
  return JSON.parse(message.parts.map((p) => decoder.decode(p)).join('')) as ToWebview;
}

/** Webview → extension. */
export type FromWebview =
  /** Sent once the webview listens; the extension answers with the current data. */
  | { type: 'ready' }
  /** The user clicked a layer row (layer = LayerInfo.name). */
  | { type: 'selectLayer'; layer: string }
  /** Prune with the settings the user sees (criterion: how channels are ranked); the extension confirms and runs it. */
  | { type: 'requestPrune'; ratio: number; scope: Scope; criterion: PreviewMethod }
  | { type: 'requestValidate' }
  | { type: 'requestSensitivity' };

/**
 * Checks a message that claims to come from the webview. The extension must not
 * trust the webview's shape blindly (a stale webview from an older build can
 * still be open), so it validates before acting.
 */
export function isFromWebview(value: unknown): value is FromWebview {
  if (typeof value !== 'object' || value === null) return false;
  const msg = value as Record<string, unknown>;
  switch (msg.type) {
    case 'ready':
    case 'requestValidate':
    case 'requestSensitivity':
      return true;
    case 'selectLayer':
      return typeof msg.layer === 'string';
    case 'requestPrune':
      return (
        typeof msg.ratio === 'number' &&
        Number.isFinite(msg.ratio) &&
        msg.ratio > 0 &&
        msg.ratio < 1 &&
        SCOPES.includes(msg.scope as Scope) &&
        isOneOf(PREVIEW_METHODS, msg.criterion)
      );
    default:
      return false;
  }
}
