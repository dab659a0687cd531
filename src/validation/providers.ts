// Execution providers: the preference order, and opening both models on the
// first provider that works. onnxruntime-node does not fall back by itself
// (`['cuda', 'cpu']` throws when the CUDA libraries are missing), so each
// provider is tried on its own and the reason for each skip is kept.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { PruneLensError } from '../onnx/errors';
import { SESSION_MEMORY_OPTIONS } from './native';
import type { ProviderAttempt } from './report';

export const KNOWN_PROVIDERS = ['cuda', 'tensorrt', 'webgpu', 'dml', 'coreml', 'cpu'] as const;
export type ProviderName = (typeof KNOWN_PROVIDERS)[number];

/**
 * CUDA first, then the GPU provider onnxruntime-node bundles for the platform, then CPU.
 * WebGPU on a Linux machine without a GPU fails fast (tens of ms, "Failed to get
 * a WebGPU adapter: No supported adapters"), also with Mesa's software Vulkan
 * (lavapipe) installed, which Dawn rejects for missing features. A provider
 * that hangs instead is cut off by the client's per-provider session timeout.
 */
export function defaultProviders(platform: NodeJS.Platform = process.platform): ProviderName[] {
  switch (platform) {
    case 'win32': return ['cuda', 'dml', 'cpu'];
    // No CUDA build of onnxruntime exists for macOS.
    case 'darwin': return ['coreml', 'cpu'];
    default: return ['cuda', 'webgpu', 'cpu'];
  }
}

/** Parses `cuda,webgpu,cpu`; CPU is appended when missing so there is always a last resort. */
export function parseProviders(text: string | readonly string[]): ProviderName[] {
  const names = (typeof text === 'string' ? text.split(',') : [...text]).map((s) => s.trim().toLowerCase()).filter(Boolean);
  const out: ProviderName[] = [];
  for (const name of names) {
    const known = name === 'directml' ? 'dml' : name;
    if (!(KNOWN_PROVIDERS as readonly string[]).includes(known)) {
      throw new PruneLensError('validation', `unknown execution provider '${name}' (known: ${KNOWN_PROVIDERS.join(', ')})`);
    }
    if (!out.includes(known as ProviderName)) out.push(known as ProviderName);
  }
  if (!out.includes('cpu')) out.push('cpu');
  return out;
}

/** What the worker needs from onnxruntime-node to open sessions. */
export interface OrtRuntime {
  createSession(file: string, options: InferenceSession.SessionOptions): Promise<InferenceSession>;
  makeTensor(type: string, data: ArrayBufferView, dims: number[]): Tensor;
  /** Backends compiled into this onnxruntime-node build (cpu, webgpu, dml, ...). */
  bundled: string[];
  /** The folder holding libonnxruntime, where ORT looks for provider libraries. */
  libraryDir: string;
}

/** A reason to skip a provider without asking ORT, which only says "Failed to load shared library". */
export function precheck(provider: ProviderName, ort: OrtRuntime): string | undefined {
  if (provider === 'cpu') return undefined;
  if (provider === 'cuda' || provider === 'tensorrt') {
    if (process.platform !== 'linux' && process.platform !== 'win32') return `onnxruntime has no ${provider} build for ${process.platform}`;
    const lib = process.platform === 'win32' ? `onnxruntime_providers_${provider}.dll` : `libonnxruntime_providers_${provider}.so`;
    if (!fs.existsSync(path.join(ort.libraryDir, lib))) {
      return `the ${provider.toUpperCase()} provider library ${lib} is not installed (onnxruntime-node downloads it separately; ` +
        'set cudaLibraryPath to a folder holding it and libonnxruntime_providers_shared)';
    }
    return undefined;
  }
  if (!ort.bundled.includes(provider)) return `onnxruntime-node has no ${provider} backend on ${process.platform}/${process.arch}`;
  return undefined;
}

export interface SessionPair {
  provider: ProviderName;
  original: InferenceSession;
  pruned: InferenceSession;
  attempts: ProviderAttempt[];
}

export interface ModelFiles { original: string; pruned: string }

export interface AttemptHooks {
  /** Before each session is created: the client times this step, since it can hang in native code. */
  trying(provider: ProviderName, model: 'original' | 'pruned'): void;
  skipped(attempt: ProviderAttempt): void;
}

/**
 * Opens both models on the first provider (in order) where both load.
 * Throws when even CPU fails: then the model is at fault.
 */
export async function openSessionPair(
  ort: OrtRuntime,
  files: ModelFiles,
  providers: readonly ProviderName[],
  hooks: AttemptHooks,
  attempts: ProviderAttempt[] = [],
): Promise<SessionPair> {
  const skipped = (attempt: ProviderAttempt) => { attempts.push(attempt); hooks.skipped(attempt); };
  for (const provider of providers) {
    const skip = precheck(provider, ort);
    if (skip) { skipped({ provider, ok: false, reason: skip }); continue; }
    const opened: InferenceSession[] = [];
    try {
      for (const model of ['original', 'pruned'] as const) {
        hooks.trying(provider, model);
        try {
          opened.push(await ort.createSession(files[model], sessionOptions(provider)));
        } catch (e) {
          throw new ModelLoadError(model, files[model], firstLine(e));
        }
      }
      attempts.push({ provider, ok: true });
      return { provider, original: opened[0], pruned: opened[1], attempts };
    } catch (e) {
      await Promise.all(opened.map((s) => s.release()));
      if (!(e instanceof ModelLoadError)) throw e;
      const failure = e;
      skipped({ provider, ok: false, reason: `${failure.model} model: ${failure.detail}` });
      // CPU is the reference: if a model does not load there, it is broken, not the provider.
      if (provider === 'cpu') throw new PruneLensError('validation', `onnxruntime cannot load the model: ${failure.detail}`, {}, failure.file);
    }
  }
  throw new PruneLensError('validation', `no execution provider could run the models: ${attempts.map((a) => `${a.provider}: ${a.reason}`).join('; ')}`);
}

class ModelLoadError extends Error {
  constructor(readonly model: 'original' | 'pruned', readonly file: string, readonly detail: string) { super(detail); }
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const line = (text.split('\n').find((l) => l.trim()) ?? text).trim();
  // ORT prefixes many messages with a source location and the failed check;
  // the user needs the sentence after them.
  const afterCheck = /\bwas false\.\s*(.+)$/.exec(line);
  return afterCheck ? afterCheck[1] : line.replace(/^\S+\.(cc|cpp|h):\d+\s+/, '');
}

/**
 * Each session has its own intra-op thread pool. By default its threads spin
 * after a run, waiting for more work; with two sessions taking turns, one's
 * spinning threads steal cores from the other's timed run. So no spinning.
 * Memory: SESSION_MEMORY_OPTIONS (native.ts).
 */
export function sessionOptions(provider: ProviderName): InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    extra: { session: { ...SESSION_MEMORY_OPTIONS.session, intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}
