import { lagOfPartitions } from './lag';

describe('consumer lag per partition', () => {
  const ends = [
    { partition: 1, low: '0', high: '10' },
    { partition: 0, low: '0', high: '4' },
    { partition: 2, low: '100', high: '150' },
  ];

  it('is the end less the committed offset, sorted by partition', () => {
    expect(
      lagOfPartitions(
        'g',
        't',
        ends,
        new Map([
          [0, 4],
          [1, 3],
          [2, 120],
        ]),
      ),
    ).toEqual([
      { group: 'g', topic: 't', partition: 0, lag: 0 },
      { group: 'g', topic: 't', partition: 1, lag: 7 },
      { group: 'g', topic: 't', partition: 2, lag: 30 },
    ]);
  });

  it('counts a partition never committed from the first offset kept', () => {
    const lag = lagOfPartitions('g', 't', ends, new Map([[0, -1]]));
    expect(lag.map((p) => p.lag)).toEqual([4, 10, 50]);
  });

  it('counts a committed offset that retention passed from the first offset kept, and never below 0', () => {
    const lag = lagOfPartitions(
      'g',
      't',
      ends,
      new Map([
        [0, 9],
        [2, 7],
      ]),
    );
    expect(lag.map((p) => p.lag)).toEqual([0, 10, 50]);
  });
});
