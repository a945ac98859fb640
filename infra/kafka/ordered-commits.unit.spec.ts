import { OrderedCommits } from './ordered-commits';

describe('OrderedCommits', () => {
  it('moves a partition past each batch done in order', () => {
    const commits = new OrderedCommits();
    const a = commits.take('t', 0, 10n);
    const b = commits.take('t', 0, 20n);
    expect(commits.done(a)).toBe(10n);
    expect(commits.done(b)).toBe(20n);
    expect(commits.inFlight).toBe(0);
  });

  it('holds a batch done before an earlier one until the earlier is done, then moves past both', () => {
    const commits = new OrderedCommits();
    const a = commits.take('t', 0, 10n);
    const b = commits.take('t', 0, 20n);
    const c = commits.take('t', 0, 30n);
    expect(commits.done(c)).toBeUndefined();
    expect(commits.done(b)).toBeUndefined();
    expect(commits.inFlight).toBe(3);
    expect(commits.done(a)).toBe(30n);
  });

  it('keeps partitions and topics apart', () => {
    const commits = new OrderedCommits();
    const slow = commits.take('t', 0, 10n);
    const other = commits.take('t', 1, 5n);
    const otherTopic = commits.take('u', 0, 7n);
    expect(commits.done(other)).toBe(5n);
    expect(commits.done(otherTopic)).toBe(7n);
    expect(commits.done(slow)).toBe(10n);
  });

  it('never returns an offset below one it returned (a batch fetched again)', () => {
    const commits = new OrderedCommits();
    expect(commits.done(commits.take('t', 0, 20n))).toBe(20n);
    expect(commits.done(commits.take('t', 0, 10n))).toBeUndefined();
    expect(commits.done(commits.take('t', 0, 30n))).toBe(30n);
  });

  it("after a failed batch commits nothing more of its partition in the generation, and the others' still", () => {
    const commits = new OrderedCommits();
    const a = commits.take('t', 0, 10n);
    const b = commits.take('t', 0, 20n);
    const elsewhere = commits.take('t', 1, 5n);
    commits.failed(a);
    expect(commits.done(b)).toBeUndefined();
    expect(commits.done(commits.take('t', 0, 30n))).toBeUndefined();
    expect(commits.done(elsewhere)).toBe(5n);
  });

  it('forgets the batches of an earlier generation, and unblocks', () => {
    const commits = new OrderedCommits();
    const old = commits.take('t', 0, 10n);
    commits.failed(commits.take('t', 1, 10n));
    commits.newGeneration();
    expect(commits.inFlight).toBe(0);
    expect(commits.done(old)).toBeUndefined();
    expect(commits.done(commits.take('t', 0, 10n))).toBe(10n);
    expect(commits.done(commits.take('t', 1, 10n))).toBe(10n);
  });
});
