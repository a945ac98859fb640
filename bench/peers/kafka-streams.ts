/**
 * The Kafka Streams peer of ciclo's lifecycle processor (bench/peers/kafka-streams/README.md), assembled and
 * run the way `ciclo stack` assembles Kafka: its jars resolved from Maven Central into a folder of CICLO_HOME
 * (infra/stack/maven.ts), its Java sources compiled there with `javac --release 17`, and the JVM started
 * detached with its output in a log file and stopped as a process group (infra/stack/processes.ts).
 *
 * It consumes a run's touchpoint topic and produces stage changes (JSON) to an output topic, exactly-once
 * (Kafka Streams' exactly_once_v2). The argument building and the classpath are pure, for unit tests; the
 * rest needs Java, Maven and (to run) Kafka and the schema registry.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CicloError } from '../../infra/errors';
import { copyDependencies, pomFor, type MavenArtifact } from '../../infra/stack/maven';
import { requireJava, requireMaven } from '../../infra/stack/prerequisites';
import {
  execFileAsync,
  isAlive,
  readPid,
  startDetached,
  stopProcessGroup,
  tailFile,
  waitFor,
} from '../../infra/stack/processes';
import { STACK_VERSIONS } from '../../infra/stack/versions';

/** This folder is bench/peers, in the sources or compiled under dist/: the Java sources stay in the sources. */
const up = path.resolve(__dirname, '..', '..');
const REPO_ROOT = path.basename(up) === 'dist' ? path.dirname(up) : up;
const PEER_SOURCES = path.join(REPO_ROOT, 'bench', 'peers', 'kafka-streams', 'src');

export const PEER_MAIN_CLASS = 'dev.ciclo.peers.kafkastreams.KafkaStreamsPeer';
export const SELF_CHECK_CLASS = 'dev.ciclo.peers.kafkastreams.SelfCheck';
/** What the peer prints on stdout once every task runs (KafkaStreamsPeer's state listener). */
export const PEER_RUNNING_LINE = 'kafka-streams peer: RUNNING';

/** The versions the peer runs: Kafka Streams of the broker's version, and the Avro the issue names. */
export const PEER_VERSIONS = {
  kafkaStreams: STACK_VERSIONS.kafka,
  avro: '1.12.2',
  /** Kafka Streams 4.x logs through slf4j-api 1.7; this binding writes to stderr, so to the peer's log. */
  slf4jSimple: '1.7.36',
} as const;

export const PEER_ARTIFACTS: readonly MavenArtifact[] = [
  { groupId: 'org.apache.kafka', artifactId: 'kafka-streams', version: PEER_VERSIONS.kafkaStreams },
  { groupId: 'org.apache.avro', artifactId: 'avro', version: PEER_VERSIONS.avro },
  { groupId: 'org.slf4j', artifactId: 'slf4j-simple', version: PEER_VERSIONS.slf4jSimple },
];

/** The self-check's extra jar: TopologyTestDriver, without the Kafka jars `lib` has already. */
export const SELF_CHECK_ARTIFACTS: readonly MavenArtifact[] = [
  {
    groupId: 'org.apache.kafka',
    artifactId: 'kafka-streams-test-utils',
    version: PEER_VERSIONS.kafkaStreams,
    exclusions: [
      { groupId: 'org.apache.kafka', artifactId: 'kafka-streams' },
      { groupId: 'org.apache.kafka', artifactId: 'kafka-clients' },
      { groupId: 'org.slf4j', artifactId: 'slf4j-api' },
    ],
  },
];

/** Where the peer's jars, classes and runs live under CICLO_HOME. */
export interface PeerLayout {
  readonly dir: string;
  readonly lib: string;
  readonly classes: string;
  readonly selfCheckLib: string;
  readonly selfCheckClasses: string;
  readonly runs: string;
}

export function peerLayout(home: string): PeerLayout {
  const dir = path.join(home, 'peers', 'kafka-streams');
  return {
    dir,
    lib: path.join(dir, 'lib'),
    classes: path.join(dir, 'classes'),
    selfCheckLib: path.join(dir, 'selfcheck-lib'),
    selfCheckClasses: path.join(dir, 'selfcheck-classes'),
    runs: path.join(dir, 'runs'),
  };
}

/** A Java classpath: each jar folder as `<dir>/*`, each class folder as is. */
export function classpathOf(jarDirs: readonly string[], classDirs: readonly string[]): string {
  return [...jarDirs.map((d) => path.join(d, '*')), ...classDirs].join(path.delimiter);
}

export function peerClasspath(layout: PeerLayout): string {
  return classpathOf([layout.lib], [layout.classes]);
}

export interface KafkaStreamsPeerOptions {
  readonly bootstrapServers: string;
  readonly registryUrl: string;
  readonly inputTopic: string;
  readonly outputTopic: string;
  readonly applicationId: string;
  /** Default: `<home>/peers/kafka-streams/runs/<applicationId>/state`. */
  readonly stateDir?: string;
  /** Default 1. */
  readonly numStreamThreads?: number;
  /** Default: Kafka Streams' for exactly-once, 100 ms (ciclo's processor commits once per consumed batch). */
  readonly commitIntervalMs?: number;
  /** Of the changelog topics; default 1 (the bench's one broker). */
  readonly replicationFactor?: number;
  /** Default rocksdb. */
  readonly store?: 'rocksdb' | 'in-memory';
  /** Stream time between scans for due inactivity deadlines; default 60,000. */
  readonly punctuateIntervalMs?: number;
  /** Any other Kafka Streams settings. */
  readonly streamsProperties?: Readonly<Record<string, string | number>>;
}

/** The peer's own arguments (KafkaStreamsPeer, PeerConfig.java), only those the options set. */
export function peerProgramArgs(options: KafkaStreamsPeerOptions): string[] {
  const args = [
    '--bootstrap-servers',
    options.bootstrapServers,
    '--registry-url',
    options.registryUrl,
    '--input-topic',
    options.inputTopic,
    '--output-topic',
    options.outputTopic,
    '--application-id',
    options.applicationId,
  ];
  const optional: [string, string | number | undefined][] = [
    ['--state-dir', options.stateDir],
    ['--num-stream-threads', options.numStreamThreads],
    ['--commit-interval-ms', options.commitIntervalMs],
    ['--replication-factor', options.replicationFactor],
    ['--store', options.store],
    ['--punctuate-interval-ms', options.punctuateIntervalMs],
  ];
  for (const [flag, value] of optional) if (value !== undefined) args.push(flag, String(value));
  for (const [key, value] of Object.entries(options.streamsProperties ?? {}))
    args.push('--streams-property', `${key}=${value}`);
  return args;
}

/**
 * The whole `java` command line: half a gigabyte of heap (RocksDB's memory is off-heap), warnings only
 * except Kafka Streams' state changes, which say when it runs.
 */
export function peerJavaArgs(layout: PeerLayout, options: KafkaStreamsPeerOptions): string[] {
  return [
    '-Xmx512m',
    '-Djava.awt.headless=true',
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
    '-Dorg.slf4j.simpleLogger.log.org.apache.kafka.streams.KafkaStreams=info',
    '-Dorg.slf4j.simpleLogger.showDateTime=true',
    '-cp',
    peerClasspath(layout),
    PEER_MAIN_CLASS,
    ...peerProgramArgs(options),
  ];
}

/** A source file and when it last changed. */
export interface SourceFile {
  readonly path: string;
  readonly mtimeMs: number;
}

/**
 * Whether classes compiled from `listed` at `compiledAtMs` (undefined: never compiled) are out of date:
 * a source is newer, or the set of sources changed (one added or removed).
 */
export function isCompileStale(
  sources: readonly SourceFile[],
  compiled: { readonly atMs: number; readonly listed: readonly string[] } | undefined,
): boolean {
  if (compiled === undefined) return true;
  const now = sources.map((s) => s.path).sort();
  const before = [...compiled.listed].sort();
  if (now.length !== before.length || now.some((p, i) => p !== before[i])) return true;
  return sources.some((s) => s.mtimeMs > compiled.atMs);
}

/** The peer's jars and compiled classes under `<home>/peers/kafka-streams`, resolved and built when missing. */
export async function assembleKafkaStreamsPeer(
  home: string,
  say: (message: string) => void = () => {},
): Promise<PeerLayout> {
  const layout = peerLayout(home);
  await requireJava(STACK_VERSIONS.javaMajor);
  await resolveJars(path.join(layout.dir, 'maven'), 'kafka-streams-peer', PEER_ARTIFACTS, layout.lib, say);
  await compileIfStale(path.join(PEER_SOURCES, 'main', 'java'), [layout.lib], [], layout.classes, say);
  return layout;
}

/** The peer and its self-check (bench/peers/kafka-streams/src/selfcheck), with kafka-streams-test-utils. */
export async function assembleKafkaStreamsSelfCheck(
  home: string,
  say: (message: string) => void = () => {},
): Promise<PeerLayout> {
  const layout = await assembleKafkaStreamsPeer(home, say);
  await resolveJars(
    path.join(layout.dir, 'maven-selfcheck'),
    'kafka-streams-peer-selfcheck',
    SELF_CHECK_ARTIFACTS,
    layout.selfCheckLib,
    say,
  );
  await compileIfStale(
    path.join(PEER_SOURCES, 'selfcheck', 'java'),
    [layout.lib, layout.selfCheckLib],
    [layout.classes],
    layout.selfCheckClasses,
    say,
    // Compiled against the peer's classes: again when those change.
    javaSources(path.join(PEER_SOURCES, 'main', 'java')),
  );
  return layout;
}

export function selfCheckClasspath(layout: PeerLayout): string {
  return classpathOf([layout.lib, layout.selfCheckLib], [layout.classes, layout.selfCheckClasses]);
}

/**
 * Resolves the artifacts into `outputDir`, unless it holds them already: a folder made from the same pom
 * (kept in `workDir` by copyDependencies) is current; another pom (a version bumped) resolves again.
 */
async function resolveJars(
  workDir: string,
  name: string,
  artifacts: readonly MavenArtifact[],
  outputDir: string,
  say: (message: string) => void,
): Promise<void> {
  const pom = pomFor(name, artifacts);
  const pomFile = path.join(workDir, 'pom.xml');
  if (fs.existsSync(outputDir) && fs.existsSync(pomFile) && fs.readFileSync(pomFile, 'utf8') === pom) return;
  await requireMaven(name);
  say(`resolving ${artifacts.map((a) => `${a.artifactId} ${a.version}`).join(', ')} from Maven Central`);
  await copyDependencies(workDir, pom, outputDir);
}

/** Where a compiled folder records which sources it was compiled from (its mtime says when). */
const COMPILED_STAMP = '.sources';

function javaSources(dir: string): SourceFile[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.java'))
    .map((f) => {
      const file = path.join(dir, f);
      return { path: file, mtimeMs: fs.statSync(file).mtimeMs };
    });
}

function compiledStamp(classesDir: string): { atMs: number; listed: string[] } | undefined {
  const stamp = path.join(classesDir, COMPILED_STAMP);
  try {
    const listed = fs.readFileSync(stamp, 'utf8').split('\n').filter(Boolean);
    return { atMs: fs.statSync(stamp).mtimeMs, listed };
  } catch {
    return undefined;
  }
}

/**
 * Compiles the sources under `sourceDir` into `classesDir` when they (or `upstream`, the sources of the
 * classes they are compiled against) changed since, through a `.partial` folder renamed when javac
 * succeeded, so a failed compile leaves the last good classes (or none).
 */
async function compileIfStale(
  sourceDir: string,
  jarDirs: readonly string[],
  classDirs: readonly string[],
  classesDir: string,
  say: (message: string) => void,
  upstream: readonly SourceFile[] = [],
): Promise<void> {
  const sources = javaSources(sourceDir);
  const watched = [...sources, ...upstream];
  if (!isCompileStale(watched, compiledStamp(classesDir))) return;
  say(`compiling ${sources.length} Java sources of ${path.relative(REPO_ROOT, sourceDir)}`);
  const partial = `${classesDir}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  fs.mkdirSync(partial, { recursive: true });
  // Stamped before javac reads the sources: a source saved while it runs is newer, so compiled again next time.
  const stamp = path.join(partial, COMPILED_STAMP);
  fs.writeFileSync(stamp, `${watched.map((s) => s.path).join('\n')}\n`);
  try {
    await execFileAsync(
      'javac',
      [
        '--release',
        '17',
        '-encoding',
        'UTF-8',
        '-d',
        partial,
        '-cp',
        classpathOf(jarDirs, classDirs),
        ...sources.map((s) => s.path),
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    const e = err as { stderr?: string; code?: string };
    fs.rmSync(partial, { recursive: true, force: true });
    throw new CicloError(
      e.code === 'ENOENT' ? 'PREREQUISITE_MISSING' : 'INSTALL_FAILED',
      e.code === 'ENOENT'
        ? 'javac is required to build the Kafka Streams peer: install a JDK 17 (e.g. apt-get install openjdk-17-jdk-headless)'
        : `javac failed on ${path.relative(REPO_ROOT, sourceDir)}: ${(e.stderr ?? '').slice(-2000)}`,
      { cause: err },
    );
  }
  fs.rmSync(classesDir, { recursive: true, force: true });
  fs.renameSync(partial, classesDir);
}

export interface RunningPeer {
  readonly pid: number;
  readonly logFile: string;
  /** Resolves once the peer printed PEER_RUNNING_LINE; rejects with its log's tail if it died or took too long. */
  readonly ready: Promise<void>;
  /**
   * Resolves when the process is gone (polled; it does not keep Node running by itself). The exit status is
   * not known here (the JVM runs detached): `failed()` says whether it ended before `stop`.
   */
  readonly exited: Promise<void>;
  /** Why the peer ended before `stop` was called (its log's tail), else undefined. */
  failed(): string | undefined;
  /** SIGTERM to its process group (Kafka Streams closes, committing or aborting), SIGKILL after 30 s. */
  stop(): Promise<void>;
}

/** Assembles the peer if needed and starts it for one run; `home` is CICLO_HOME. */
export async function startKafkaStreamsPeer(
  home: string,
  options: KafkaStreamsPeerOptions,
  startTimeoutMs = 120_000,
): Promise<RunningPeer> {
  const layout = await assembleKafkaStreamsPeer(home);
  const runDir = path.join(layout.runs, options.applicationId);
  fs.mkdirSync(runDir, { recursive: true });
  const logFile = path.join(runDir, 'peer.log');
  const pidFile = path.join(runDir, 'peer.pid');
  const running = readPid(pidFile);
  if (running !== undefined && isAlive(running))
    throw new CicloError(
      'CONFIG_INVALID',
      `a Kafka Streams peer with application id ${options.applicationId} runs already (pid ${running})`,
    );
  const pid = startDetached({
    command: 'java',
    args: peerJavaArgs(layout, { ...options, stateDir: options.stateDir ?? path.join(runDir, 'state') }),
    cwd: runDir,
    logFile,
    pidFile,
  });

  let stopping = false;
  let gone = false;
  const exited = new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (isAlive(pid)) return;
      gone = true;
      clearInterval(poll);
      resolve();
    }, 250);
    poll.unref();
  });
  const ready = waitFor(
    'the Kafka Streams peer',
    () => Promise.resolve(tailFile(logFile, 200).includes(PEER_RUNNING_LINE) ? true : undefined),
    { timeoutMs: startTimeoutMs, intervalMs: 250, isDead: () => !isAlive(pid) },
  ).then(
    () => undefined,
    (err: unknown) => {
      throw new CicloError(
        'SERVICE_UNHEALTHY',
        `Kafka Streams peer did not start: ${tailFile(logFile, 30)}`,
        {
          cause: err,
        },
      );
    },
  );
  // Whoever awaits `ready` sees its failure; a caller that only awaits `exited` must not crash the process
  // with an unhandled rejection.
  ready.catch(() => {});
  return {
    pid,
    logFile,
    ready,
    exited,
    failed: () => (gone && !stopping ? tailFile(logFile, 30) : undefined),
    async stop() {
      stopping = true;
      await stopProcessGroup(pidFile, 30_000);
      // `exited` polls on an unref'd timer: awaited alone, Node could end here, the caller's work undone.
      const keepAlive = setInterval(() => {}, 250);
      await exited.finally(() => clearInterval(keepAlive));
    },
  };
}

/** The self-check's stage changes: the peer's topology in TopologyTestDriver over a file of records. */
export async function runKafkaStreamsSelfCheck(
  layout: PeerLayout,
  input: {
    readonly schemaFile: string;
    readonly schemaId: number;
    readonly recordsFile: string;
    readonly store?: 'rocksdb' | 'in-memory';
    /** Stream time between punctuations; default the peer's 60,000. */
    readonly punctuateIntervalMs?: number;
  },
): Promise<{ changes: PeerStageChange[]; stderr: string }> {
  const { stdout, stderr } = await execFileAsync(
    'java',
    [
      '-Xmx256m',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp',
      selfCheckClasspath(layout),
      SELF_CHECK_CLASS,
      input.schemaFile,
      String(input.schemaId),
      input.recordsFile,
      input.store ?? 'rocksdb',
      String(input.punctuateIntervalMs ?? 60_000),
    ],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  const changes = stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as PeerStageChange);
  return { changes, stderr };
}

/** A stage change as the peer writes it (StageChange.java). */
export interface PeerStageChange {
  readonly customerId: string;
  readonly fromStage: string | null;
  readonly toStage: string;
  readonly ruleId: string;
  readonly occurredAt: number;
}
