// Channel units: the atoms of structured pruning. Every channel a producer
// creates (one per out-channel of a Conv, Gemm, MatMul, or per channel of a
// graph input) is a unit. Ops that tie channels together (a residual Add, a
// grouped conv) merge units, so a merged unit is removed everywhere at once.
// A union-find keeps merging linear in the number of channels.

export class UnitTable {
  private parent = new Int32Array(1024);
  /** Why a unit (at its root) must not be removed; undefined when it may. */
  private frozen = new Map<number, string>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Allocates `n` fresh units and returns the first id; they are consecutive. */
  allocate(n: number): number {
    const first = this.count;
    if (first + n > this.parent.length) {
      const grown = new Int32Array(Math.max(this.parent.length * 2, first + n));
      grown.set(this.parent);
      this.parent = grown;
    }
    for (let i = 0; i < n; i++) this.parent[first + i] = first + i;
    this.count += n;
    return first;
  }

  find(u: number): number {
    let root = u;
    while (this.parent[root] !== root) root = this.parent[root];
    // Path compression: point every unit on the way straight at the root.
    while (this.parent[u] !== root) {
      const next = this.parent[u];
      this.parent[u] = root;
      u = next;
    }
    return root;
  }

  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    // The lower id stays the root, so a group's numbering follows creation order.
    const [root, child] = ra < rb ? [ra, rb] : [rb, ra];
    this.parent[child] = root;
    const why = this.frozen.get(child);
    if (why !== undefined) {
      if (!this.frozen.has(root)) this.frozen.set(root, why);
      this.frozen.delete(child);
    }
  }

  freeze(u: number, reason: string): void {
    const r = this.find(u);
    if (!this.frozen.has(r)) this.frozen.set(r, reason);
  }

  frozenReason(u: number): string | undefined {
    return this.frozen.get(this.find(u));
  }
}
