// The input size MACs are counted at, as users state it and as the front ends
// show it: `1x3x96x96` or `images=1x3x96x96` (the CLI's --input-shape and the
// pruneLens.assumedInputShape setting), or `{"images": [1,3,96,96]}` (the setting).

import type { LayerTable } from './types';

export type StatedShapes = number[] | Record<string, number[]>;

function shapeOf(text: string): number[] {
  const d = text.trim().split(/\s*[x×]\s*/).map(Number);
  if (!text.trim() || d.some((v) => !Number.isSafeInteger(v) || v < 1)) throw new Error(`"${text}" is not a shape like 1x3x96x96`);
  return d;
}

/** `1x3x96x96`, or `images=1x3x96x96,mask=1x96x96` for a model with several inputs. */
export function parseInputShape(text: string): StatedShapes {
  if (!text.includes('=')) return shapeOf(text);
  return Object.fromEntries(text.split(',').map((part) => {
    const [name, shape, more] = part.split('=');
    if (!name?.trim() || !shape || more !== undefined) throw new Error(`"${part}" is not NAME=SHAPE`);
    return [name.trim(), shapeOf(shape)];
  }));
}

/**
 * A setting's value: the string forms above, an array `[1,3,96,96]`, or an
 * object of shapes by input name. Undefined for an empty setting; throws with
 * the reason for anything else.
 */
export function readInputShapeSetting(value: unknown): StatedShapes | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return parseInputShape(value);
  const shape = (v: unknown, what: string): number[] => {
    if (typeof v === 'string') return shapeOf(v);
    if (!Array.isArray(v) || !v.length || v.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 1)) {
      throw new Error(`${what} ${JSON.stringify(v)} is not a shape like [1,3,96,96] (positive whole numbers)`);
    }
    return v as number[];
  };
  if (Array.isArray(value)) return shape(value, 'the shape');
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (!entries.length) return undefined;
    return Object.fromEntries(entries.map(([name, v]) => [name, shape(v, `input ${name}:`)]));
  }
  throw new Error(`${JSON.stringify(value)} is not an input shape: give "1x3x96x96" or {"images": [1,3,96,96]}`);
}

/** `images 1×3×96×96` (several inputs joined with commas). */
export function inputSizeLabel(shapes: Record<string, number[]>): string {
  return Object.entries(shapes).map(([n, s]) => `${n} ${s.join('×')}`).join(', ');
}

/** The sizes the model's MAC count still leaves out (every layer's, each once): empty when it is exact. */
export function macsDependOn(table: Pick<LayerTable, 'layers'>): string[] {
  return [...new Set(table.layers.filter((l) => !l.tokenAxis).flatMap((l) => l.macsDependsOn ?? []))];
}

/**
 * The sentence the hover and the report say about the input size: where it
 * came from, or what the count depends on and how to state a size, and why a
 * stated size was not used.
 */
export function inputSizeNote(table: Pick<LayerTable, 'layers' | 'totals' | 'assumedInput' | 'inputShapeMisfit'>): string | undefined {
  const open = macsDependOn(table);
  if (!table.totals.macsFormula && !open.length) return undefined;
  const misfit = table.inputShapeMisfit ? ` (${table.inputShapeMisfit.source} not used: ${table.inputShapeMisfit.reason})` : '';
  if (open.length) return `MACs unknown: they depend on ${open.join(', ')}; set pruneLens.assumedInputShape to count them${misfit}.`;
  // A token model without a stated size counts per token: its length is said where its MACs are.
  const a = table.assumedInput;
  if (!a) return undefined;
  return `MACs per sample at ${inputSizeLabel(a.shapes)}, from ${a.source}${misfit}.`;
}
