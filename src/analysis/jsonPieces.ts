// A layer table as JSON text, in pieces. A language model's table holds
// millions of per-channel numbers (tens or hundreds of MB of JSON): one
// JSON.stringify holds the thread for a quarter of a second or more and the
// whole text in memory. The CLI writes the pieces as they come; the extension
// hands them to the report webview with the event loop running in between.

/** JSON.stringify leaves these out of objects, and writes null for them in arrays. */
const skipped = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/**
 * The text of JSON.stringify(value, null, indent), in pieces: objects and arrays
 * of objects are opened member by member; anything else (numbers, strings,
 * arrays of numbers, values with toJSON) is one piece.
 */
export function* jsonPieces(value: unknown, indent = 0): Generator<string> {
  yield* piecesAt(value, indent, '');
}

function* piecesAt(value: unknown, indent: number, pad: string): Generator<string> {
  const whole = value === null || typeof value !== 'object' || typeof (value as { toJSON?: unknown }).toJSON === 'function'
    // Arrays of numbers or strings go whole: the cost is in their count, not their depth.
    || (Array.isArray(value) && (value.length === 0 || value[0] === null || typeof value[0] !== 'object'));
  if (whole) {
    const text = JSON.stringify(value, null, indent) ?? 'null';
    // JSON text holds no raw newline inside a string, so each one is a line break to indent.
    yield indent && pad ? text.replace(/\n/g, `\n${pad}`) : text;
    return;
  }
  const inner = indent ? pad + ' '.repeat(indent) : '';
  const lineBreak = indent ? `\n${inner}` : '';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      yield `${i ? ',' : '['}${lineBreak}`;
      if (skipped(value[i])) yield 'null';
      else yield* piecesAt(value[i], indent, inner);
    }
    yield indent ? `\n${pad}]` : ']';
    return;
  }
  const members = Object.entries(value).filter(([, v]) => !skipped(v));
  if (!members.length) {
    yield '{}';
    return;
  }
  for (let i = 0; i < members.length; i++) {
    const [key, v] = members[i];
    yield `${i ? ',' : '{'}${lineBreak}${JSON.stringify(key)}:${indent ? ' ' : ''}`;
    yield* piecesAt(v, indent, inner);
  }
  yield indent ? `\n${pad}}` : '}';
}
