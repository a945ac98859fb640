import { partitionChains } from './partition-chains';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('partitionChains', () => {
  it("runs a partition's work one after another, failed or not, and partitions side by side", async () => {
    const chains = partitionChains();
    const log: string[] = [];
    let release!: () => void;
    const first = chains.run(0, async () => {
      log.push('0a start');
      await new Promise<void>((r) => (release = r));
      log.push('0a end');
      throw new Error('0a failed');
    });
    const second = chains.run(0, () => Promise.resolve(log.push('0b')));
    const other = chains.run(1, () => Promise.resolve(log.push('1a')));
    await tick();
    expect(log).toEqual(['0a start', '1a']);
    release();
    await expect(first).rejects.toThrow('0a failed');
    await second;
    await other;
    expect(log).toEqual(['0a start', '1a', '0a end', '0b']);
  });

  it('settles once all queued work has ended', async () => {
    const chains = partitionChains();
    let done = 0;
    void chains.run(2, async () => {
      await tick();
      done++;
    });
    void chains.run(2, () => Promise.reject(new Error('x'))).catch(() => undefined);
    void chains.run(3, async () => {
      await tick();
      done++;
    });
    await chains.settled();
    expect(done).toBe(2);
  });
});
