import { formatStatus } from './stack';

describe('stack status table', () => {
  it('shows each service with state, version, address and mode in aligned columns', () => {
    const table = formatStatus([
      {
        name: 'kafka',
        address: '127.0.0.1:9092',
        managed: true,
        running: true,
        health: { healthy: true, version: '4.4.0' },
      },
      {
        name: 'clickhouse',
        address: 'http://127.0.0.1:8123',
        managed: true,
        running: true,
        health: { healthy: false },
      },
      {
        name: 'schema-registry',
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
