// How channels tied at a global threshold share the count still to remove.
// Shared by the engine's selection and the report's preview of it, so the two
// always agree.

/**
 * Splits `quota` tied channels across groups in proportion to how many ties
 * each holds, by largest remainder (ties of remainders go to the earlier key).
 */
export function shareTies<K>(keys: readonly K[], tied: ReadonlyMap<K, number>, quota: number): Map<K, number> {
  const share = new Map<K, number>();
  let tiedTotal = 0;
  for (const k of keys) tiedTotal += tied.get(k) ?? 0;
  if (tiedTotal === 0 || quota <= 0) {
    for (const k of keys) share.set(k, 0);
    return share;
  }
  let given = 0;
  const rest: [K, number, number][] = [];
  keys.forEach((k, order) => {
    const exact = ((tied.get(k) ?? 0) * quota) / tiedTotal;
    const whole = Math.floor(exact + 1e-9);
    share.set(k, whole);
    given += whole;
    rest.push([k, exact - whole, order]);
  });
  rest.sort((a, b) => b[1] - a[1] || a[2] - b[2]);
  for (let i = 0; given < quota && i < rest.length; i++, given++) share.set(rest[i][0], share.get(rest[i][0])! + 1);
  return share;
}
