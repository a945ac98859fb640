import { handedOverCommits, type PartitionOffset } from './handed-over-commits';

/** A committer whose requests are answered in order: `refuse` names how many to refuse first. */
function committer(refuse: number) {
  const sent: string[][] = [];
  const committed = new Map<string, string>();
  let refused = 0;
  return {
    sent,
    committed,
    commitOffsets(offsets: PartitionOffset[]): Promise<void> {
      sent.push(offsets.map((o) => `${o.topic}/${o.partition}=${o.offset}`));
      if (refused < refuse) {
        refused += 1;
        return Promise.reject(new Error('This is not the correct coordinator for this group'));
      }
      for (const o of offsets) committed.set(`${o.topic}/${o.partition}`, o.offset);
      return Promise.resolve();
    },
  };
}

/** A batch's end, settled when told. */
function deferred() {
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  return { done, resolve };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('handed-over commits', () => {
  it('sends a refused commit again until it is taken, with nothing after it to carry it', async () => {
    const c = committer(3);
    const commits = handedOverCommits({ commitOffsets: (o) => c.commitOffsets(o), retryMs: 1 });
    const end = deferred();
    commits.ends(commits.take('t', 0, 10n), end.done);
    end.resolve();
    await commits.stopped();
    expect(c.sent).toEqual([['t/0=10'], ['t/0=10'], ['t/0=10'], ['t/0=10']]);
    expect(Object.fromEntries(c.committed)).toEqual({ 't/0': '10' });
  });

  it('sends a later offset of the partition in place of the refused one', async () => {
    const c = committer(1);
    const commits = handedOverCommits({ commitOffsets: (o) => c.commitOffsets(o), retryMs: 20 });
    const first = deferred();
    const second = deferred();
    const other = deferred();
    commits.ends(commits.take('t', 0, 10n), first.done);
    commits.ends(commits.take('t', 0, 20n), second.done);
    commits.ends(commits.take('t', 1, 5n), other.done);
    first.resolve();
    await settle();
    // Both end while the refused commit waits to be sent again.
    second.resolve();
    other.resolve();
    await commits.stopped();
    expect(c.sent).toEqual([['t/0=10'], ['t/0=20', 't/1=5']]);
    expect(Object.fromEntries(c.committed)).toEqual({ 't/0': '20', 't/1': '5' });
  });

  it('drops what is refused once the group is joined anew: fetching starts again from the committed offsets', async () => {
    const c = committer(1);
    const commits = handedOverCommits({ commitOffsets: (o) => c.commitOffsets(o), retryMs: 20 });
    commits.ends(commits.take('t', 0, 10n), Promise.resolve());
    await settle();
    commits.rejoined();
    await commits.stopped();
    expect(c.sent).toEqual([['t/0=10']]);
    expect(c.committed.size).toBe(0);
  });

  it('gives up after a few attempts once stopping, so a stop ends without a broker', async () => {
    const c = committer(Infinity);
    const commits = handedOverCommits({
      commitOffsets: (o) => c.commitOffsets(o),
      retryMs: 1,
      attemptsWhenStopping: 3,
    });
    commits.ends(commits.take('t', 0, 10n), Promise.resolve());
    await commits.stopped();
    expect(c.sent).toHaveLength(3);
    expect(c.committed.size).toBe(0);
  });

  it('commits a partition only past batches that ended in order, and fails the next batch after a failed one', async () => {
    const c = committer(0);
    const commits = handedOverCommits({ commitOffsets: (o) => c.commitOffsets(o) });
    const first = deferred();
    commits.ends(commits.take('t', 0, 10n), first.done);
    commits.ends(commits.take('t', 0, 20n), Promise.resolve());
    await settle();
    expect(c.sent).toEqual([]);
    first.resolve();
    await settle();
    expect(c.sent).toEqual([['t/0=20']]);
    commits.ends(commits.take('t', 1, 5n), Promise.reject(new Error('insert failed')));
    await commits.stopped();
    expect(() => commits.throwIfFailed()).toThrow('a batch of t partition 1 failed: insert failed');
    expect(Object.fromEntries(c.committed)).toEqual({ 't/0': '20' });
  });
});
