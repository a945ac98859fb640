import { CicloError } from '../../infra/errors';
import { SINGLE_NODE } from '../../infra/stack/shape';
import { formatStatus, requestedShape } from './stack';

describe('stack status table', () => {
  it('shows each service with state, version, address and mode in aligned columns', () => {
    const table = formatStatus([
      {
        name: 'kafka',
        kind: 'kafka',
        address: '127.0.0.1:9092',
        managed: true,
        running: true,
        health: { healthy: true, version: '4.4.0' },
      },
      {
        name: 'clickhouse',
        kind: 'clickhouse',
        address: 'http://127.0.0.1:8123',
        managed: true,
        running: true,
        health: { healthy: false },
      },
      {
        name: 'schema-registry',
        kind: 'schema-registry',
        address: 'http://sr:8081',
        managed: false,
        running: false,
        health: { healthy: false },
      },
    ]);
    expect(table.split('\n')).toEqual([
      'SERVICE          STATE     VERSION  ADDRESS                MODE',
      'kafka            healthy   4.4.0    127.0.0.1:9092         managed',
      'clickhouse       starting  -        http://127.0.0.1:8123  managed',
      'schema-registry  down      -        http://sr:8081         external',
    ]);
  });
});

describe('stack up flags', () => {
  it('changes only what a flag names, keeping the recorded shape for the rest', () => {
    const recorded = { brokers: 3, clickhouseReplicas: 2, portOffset: 0 };
    expect(requestedShape(recorded, {})).toEqual(recorded);
    expect(requestedShape(recorded, { brokers: '1' })).toEqual({ ...recorded, brokers: 1 });
    expect(requestedShape(SINGLE_NODE, { clickhouseReplicas: '2', portOffset: '20000' })).toEqual({
      brokers: 1,
      clickhouseReplicas: 2,
      portOffset: 20000,
    });
  });

  it.each([
    [{ brokers: 'three' }, '--brokers'],
    [{ brokers: '0' }, '--brokers'],
    [{ brokers: '2.5' }, '--brokers'],
    [{ clickhouseReplicas: '9' }, '--clickhouse-replicas'],
    [{ portOffset: '-5' }, '--port-offset'],
  ])('refuses %j, naming the flag', (opts, flag) => {
    let error: unknown;
    try {
      requestedShape(SINGLE_NODE, opts);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CicloError);
    expect((error as CicloError).message).toContain(flag);
  });
});
