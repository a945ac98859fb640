import { PeerImports, type PeerImportsCheckpoint } from './peer-imports';

describe('what the other partitions know of imports', () => {
  it("bounds a partition's progress at the start of an import it has not named, until it does", () => {
    const p = new PeerImports(3, 0);
    p.seen('run-a', 100);
    expect(p.bound(1, 500)).toBe(99);
    expect(p.bound(2, 50)).toBe(50);
    p.report(1, ['run-a']);
    expect(p.bound(1, 500)).toBe(500);
    expect(p.bound(2, 500)).toBe(99);
    p.report(2, ['run-a']);
    expect(p.isEmpty).toBe(false); // it remembers what was named
    expect(p.bound(2, 500)).toBe(500);
  });

  it('takes an import named before it was seen here as named', () => {
    const p = new PeerImports(2, 1);
    p.report(0, ['run-b']);
    p.seen('run-b', 100);
    expect(p.bound(0, 500)).toBe(500);
  });

  it('restores what it waits for and what was named', () => {
    const p = new PeerImports(3, 2);
    p.seen('run-c', 100);
    p.report(0, ['run-c', 'run-d']);
    const q = PeerImports.restored(3, 2, JSON.parse(JSON.stringify(p.checkpoint())) as PeerImportsCheckpoint);
    expect(q.bound(0, 500)).toBe(500);
    expect(q.bound(1, 500)).toBe(99);
    q.seen('run-d', 10);
    expect(q.bound(1, 500)).toBe(9);
  });
});
