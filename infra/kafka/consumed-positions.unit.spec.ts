import { ConsumedPositions } from './consumed-positions';

const batch = (...offsets: number[]): { offset: string }[] => offsets.map((o) => ({ offset: String(o) }));

describe('consumed positions', () => {
  it('hands over only what the state has not consumed, from the committed offsets on and past each batch', () => {
    const positions = new ConsumedPositions();
    positions.restored(3, new Map([['t', 10n]]), ['t', 'i']);
    // Fetched before the seek to the committed offset took effect.
    expect(positions.unconsumed('t', 3, batch(8, 9, 10, 11))).toEqual(batch(10, 11));
    positions.consumed('t', 3, 12n);
    // The seek took effect after that batch: fetched again from 10.
    expect(positions.unconsumed('t', 3, batch(10, 11))).toEqual([]);
    expect(positions.position('t', 3)).toBe(12n);
    expect(positions.unconsumed('t', 3, batch(11, 12, 13))).toEqual(batch(12, 13));
    // A topic with no committed offset: everything, until a batch of it was consumed.
    expect(positions.unconsumed('i', 3, batch(0, 1))).toEqual(batch(0, 1));
    positions.consumed('i', 3, 2n);
    expect(positions.unconsumed('i', 3, batch(0, 1, 2))).toEqual(batch(2));
    // Other partitions are their own.
    expect(positions.unconsumed('t', 4, batch(0))).toEqual(batch(0));
  });

  it('never moves back, and forgets a partition released (its state is restored anew)', () => {
    const positions = new ConsumedPositions();
    positions.consumed('t', 0, 20n);
    positions.consumed('t', 0, 15n);
    expect(positions.position('t', 0)).toBe(20n);
    positions.released(0);
    expect(positions.position('t', 0)).toBeUndefined();
    positions.restored(0, new Map([['t', 17n]]), ['t']);
    expect(positions.unconsumed('t', 0, batch(16, 17))).toEqual(batch(17));
  });
});
