import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CicloError } from '../errors';
import { endpointsOf, layoutOf, readStackShape, SINGLE_NODE, stackShapeFile, writeStackShape } from './shape';

describe('stack shape', () => {
  it('lays one node out on the documented ports, with no ZooKeeper', () => {
    expect(layoutOf(SINGLE_NODE)).toEqual({
      kafka: [{ nodeId: 1, port: 9092, controllerPort: 9093 }],
      clickhouse: [{ index: 1, httpPort: 8123, tcpPort: 9000, interserverPort: 9009 }],
      schemaRegistryPort: 8081,
      schemaRegistryAdminPort: 8082,
      postgresqlPort: 15432,
    });
    expect(endpointsOf(SINGLE_NODE)).toEqual({
      kafkaBrokers: ['127.0.0.1:9092'],
      schemaRegistryUrl: 'http://127.0.0.1:8081/api/v1/confluent',
      clickhouseUrls: ['http://127.0.0.1:8123'],
    });
  });

  it('gives each member of a cluster its own ports, shifted by the offset, none shared', () => {
    const shape = { brokers: 3, clickhouseReplicas: 2, portOffset: 20000 };
    const layout = layoutOf(shape);
    expect(layout.kafka).toEqual([
      { nodeId: 1, port: 29092, controllerPort: 29093 },
      { nodeId: 2, port: 29094, controllerPort: 29095 },
      { nodeId: 3, port: 29096, controllerPort: 29097 },
    ]);
    expect(layout.zookeeperPort).toBe(22181);
    const ports = [
      ...layout.kafka.flatMap((n) => [n.port, n.controllerPort]),
      ...layout.clickhouse.flatMap((r) => [r.httpPort, r.tcpPort, r.interserverPort]),
      layout.zookeeperPort,
      layout.schemaRegistryPort,
      layout.schemaRegistryAdminPort,
      layout.postgresqlPort,
    ];
    expect(new Set(ports).size).toBe(ports.length);
    expect(endpointsOf(shape)).toEqual({
      kafkaBrokers: ['127.0.0.1:29092', '127.0.0.1:29094', '127.0.0.1:29096'],
      schemaRegistryUrl: 'http://127.0.0.1:28081/api/v1/confluent',
      clickhouseUrls: ['http://127.0.0.1:28123', 'http://127.0.0.1:28124'],
      clickhouseCluster: 'ciclo',
    });
  });

  it('is one node until a shape is recorded, then the recorded one', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-shape-'));
    try {
      expect(readStackShape(home)).toEqual(SINGLE_NODE);
      writeStackShape(home, { brokers: 3, clickhouseReplicas: 1, portOffset: 0 });
      expect(readStackShape(home)).toEqual({ brokers: 3, clickhouseReplicas: 1, portOffset: 0 });
      fs.writeFileSync(stackShapeFile(home), '{"brokers": 0, "clickhouseReplicas": 1, "portOffset": 0}');
      expect(() => readStackShape(home)).toThrow(CicloError);
      fs.writeFileSync(stackShapeFile(home), 'not json');
      expect(() => readStackShape(home)).toThrow(/stack\.json is not JSON/);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
