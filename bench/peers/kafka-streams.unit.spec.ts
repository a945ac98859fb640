import path from 'node:path';
import {
  classpathOf,
  isCompileStale,
  PEER_ARTIFACTS,
  PEER_MAIN_CLASS,
  peerJavaArgs,
  peerLayout,
  peerProgramArgs,
  type KafkaStreamsPeerOptions,
} from './kafka-streams';
import { STACK_VERSIONS } from '../../infra/stack/versions';

const required: KafkaStreamsPeerOptions = {
  bootstrapServers: '127.0.0.1:9092',
  registryUrl: 'http://127.0.0.1:8081/api/v1/confluent',
  inputTopic: 'run.touchpoints',
  outputTopic: 'run.peer-stage-changes',
  applicationId: 'run-peer',
};

describe('the Kafka Streams peer, assembled', () => {
  it('runs Kafka Streams of the broker’s version with Avro 1.12.2', () => {
    const versions = Object.fromEntries(PEER_ARTIFACTS.map((a) => [a.artifactId, a.version]));
    expect(versions['kafka-streams']).toBe(STACK_VERSIONS.kafka);
    expect(versions.avro).toBe('1.12.2');
  });

  it('lives under <home>/peers/kafka-streams', () => {
    const layout = peerLayout('/h');
    expect(layout.lib).toBe(path.join('/h', 'peers', 'kafka-streams', 'lib'));
    expect(layout.classes).toBe(path.join('/h', 'peers', 'kafka-streams', 'classes'));
  });

  it('passes only the options given, each once, and Kafka Streams settings as key=value', () => {
    expect(peerProgramArgs(required)).toEqual([
      '--bootstrap-servers',
      '127.0.0.1:9092',
      '--registry-url',
      'http://127.0.0.1:8081/api/v1/confluent',
      '--input-topic',
      'run.touchpoints',
      '--output-topic',
      'run.peer-stage-changes',
      '--application-id',
      'run-peer',
    ]);
    const all = peerProgramArgs({
      ...required,
      stateDir: '/s',
      numStreamThreads: 2,
      commitIntervalMs: 1000,
      replicationFactor: 3,
      store: 'in-memory',
      punctuateIntervalMs: 5000,
      streamsProperties: { 'statestore.cache.max.bytes': 0 },
    });
    expect(all.slice(10)).toEqual([
      '--state-dir',
      '/s',
      '--num-stream-threads',
      '2',
      '--commit-interval-ms',
      '1000',
      '--replication-factor',
      '3',
      '--store',
      'in-memory',
      '--punctuate-interval-ms',
      '5000',
      '--streams-property',
      'statestore.cache.max.bytes=0',
    ]);
  });

  it('starts the main class with half a gigabyte of heap on the jars and the compiled classes', () => {
    const layout = peerLayout('/h');
    const args = peerJavaArgs(layout, required);
    expect(args[0]).toBe('-Xmx512m');
    const cp = args[args.indexOf('-cp') + 1];
    expect(cp).toBe(classpathOf([layout.lib], [layout.classes]));
    expect(cp).toBe(`${path.join(layout.lib, '*')}${path.delimiter}${layout.classes}`);
    expect(args[args.indexOf('-cp') + 2]).toBe(PEER_MAIN_CLASS);
    expect(args.slice(args.indexOf(PEER_MAIN_CLASS) + 1)).toEqual(peerProgramArgs(required));
  });

  it('compiles when never compiled, when a source is newer, or when the sources are not the same', () => {
    const sources = [
      { path: '/src/A.java', mtimeMs: 100 },
      { path: '/src/B.java', mtimeMs: 200 },
    ];
    expect(isCompileStale(sources, undefined)).toBe(true);
    expect(isCompileStale(sources, { atMs: 300, listed: ['/src/B.java', '/src/A.java'] })).toBe(false);
    expect(isCompileStale(sources, { atMs: 150, listed: ['/src/A.java', '/src/B.java'] })).toBe(true);
    expect(isCompileStale(sources, { atMs: 300, listed: ['/src/A.java'] })).toBe(true);
    expect(isCompileStale(sources.slice(0, 1), { atMs: 300, listed: ['/src/A.java', '/src/B.java'] })).toBe(
      true,
    );
  });
});
