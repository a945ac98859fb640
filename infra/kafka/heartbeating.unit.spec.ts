import { heartbeatingWhile } from './heartbeating';

const after = <T>(ms: number, value: T): Promise<T> =>
  new Promise((resolve) => setTimeout(() => resolve(value), ms));

describe('heartbeating while a batch waits', () => {
  it('heartbeats at the interval until the work is done, and gives its result', async () => {
    let restored!: (value: string) => void;
    const work = new Promise<string>((resolve) => (restored = resolve));
    let beats = 0;
    const heartbeat = (): Promise<void> => {
      if (++beats === 3) restored('restored');
      return Promise.resolve();
    };
    expect(await heartbeatingWhile(work, heartbeat, 10)).toBe('restored');
    expect(beats).toBe(3);
  });

  it('sends none for work done within the interval', async () => {
    let beats = 0;
    await heartbeatingWhile(after(5, 1), () => Promise.resolve(void beats++), 100);
    expect(beats).toBe(0);
  });

  it("gives the work's failure, and takes a failed heartbeat for no failure of the work", async () => {
    const failing = after(60, undefined).then(() => Promise.reject(new Error('fenced')));
    let beats = 0;
    const rebalancing = (): Promise<void> => {
      beats++;
      return Promise.reject(new Error('The group is rebalancing, so a rejoin is needed'));
    };
    await expect(heartbeatingWhile(failing, rebalancing, 15)).rejects.toThrow('fenced');
    expect(beats).toBeGreaterThan(1);
    expect(await heartbeatingWhile(after(40, 'done'), rebalancing, 10)).toBe('done');
  });
});
