import { IdentityTable } from './identity-table';

describe('the identity table', () => {
  it('merges a customer of its own into the target, with every id that led to it', () => {
    const t = new IdentityTable();
    expect(t.link('anon', 'ann')).toEqual({ kind: 'merge', source: 'anon', target: 'ann', moved: ['anon'] });
    expect(t.link('ann', 'bea')).toEqual({
      kind: 'merge',
      source: 'ann',
      target: 'bea',
      moved: ['ann', 'anon'],
    });
    expect([t.resolve('anon'), t.resolve('ann'), t.resolve('bea')]).toEqual(['bea', 'bea', 'bea']);
    expect([...t.membersOf('bea')].sort()).toEqual(['ann', 'anon']);
    expect(t.membersOf('ann').size).toBe(0);
  });

  it('changes nothing for a link within one customer, either way round', () => {
    const t = new IdentityTable();
    t.link('anon', 'ann');
    expect(t.link('anon', 'ann')).toEqual({ kind: 'none', target: 'ann' });
    expect(t.link('ann', 'anon')).toEqual({ kind: 'none', target: 'ann' });
    t.takeChanged();
    expect(t.takeChanged().size).toBe(0);
  });

  it("re-points an id that is another customer's, without merging the two (a shared device)", () => {
    const t = new IdentityTable();
    t.link('pc', 'xia');
    expect(t.link('pc', 'wes')).toEqual({ kind: 'repoint', id: 'pc', left: 'xia', target: 'wes' });
    expect(t.resolve('pc')).toBe('wes');
    expect(t.resolve('xia')).toBe('xia');
    expect(t.membersOf('xia').size).toBe(0);
    expect([...t.membersOf('wes')]).toEqual(['pc']);
  });

  it('links to the customer the target id leads to, and never makes a chain or a loop', () => {
    const t = new IdentityTable();
    t.link('c1', 'c0'); // c1 -> c0
    t.link('c2', 'c1'); // c2 -> c0: the target id leads there
    t.link('c0', 'c2'); // within one customer
    for (const id of ['c0', 'c1', 'c2']) expect(t.resolve(id)).toBe('c0');
    for (const [, into] of t.entries()) expect(t.resolve(into)).toBe(into);
  });

  it('reports each re-pointed id once per call, as the changelog writes them, and restores them', () => {
    const t = new IdentityTable();
    t.link('a', 'b');
    t.link('b', 'c');
    expect([...t.takeChanged()].sort()).toEqual([
      ['a', 'c'],
      ['b', 'c'],
    ]);
    const restored = new IdentityTable();
    for (const [id, into] of t.entries()) restored.restore(id, into);
    expect(restored.link('c', 'd')).toMatchObject({ kind: 'merge', moved: ['c', 'a', 'b'] });
  });
});
