/**
 * Confluent's official Schema Registry clients, for tests that read ciclo's topics as a Python or Node user
 * would: confluent-kafka for Python (in a venv) and @confluentinc/schemaregistry for Node, each installed
 * once, at a pinned version, under the stack home's tools/ folder and reused while that version stays the
 * same. Never into the project's own dependencies: the Node client pulls in the AWS, Azure and Google Cloud
 * SDKs (~170 MB) for its encryption rules. A missing python3, venv module, pip or npm fails with what to
 * install; nothing is skipped.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** confluent-kafka for Python; its `avro` extra brings fastavro and the registry client's own needs. */
export const CONFLUENT_KAFKA_PYTHON = '2.16.1';
export const CONFLUENT_SCHEMAREGISTRY_JS = '1.10.1';

const PYTHON_REQUIREMENT = `confluent-kafka[avro]==${CONFLUENT_KAFKA_PYTHON}`;
const JS_PACKAGE = '@confluentinc/schemaregistry';

export const READ_PYTHON = path.join(__dirname, 'read_python.py');
export const READ_JS = path.join(__dirname, 'read_js.mjs');

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; rejects only when it cannot be started (ENOENT names the missing command). */
export function run(
  command: string,
  args: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      [...args],
      {
        env: { ...process.env, ...options.env },
        ...(options.cwd ? { cwd: options.cwd } : {}),
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        // A string code (ENOENT, EACCES) means the command could not be started at all.
        if (error && typeof error.code === 'string')
          return reject(Object.assign(new Error(error.message), { code: error.code }));
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}

/**
 * The marker is written last, naming what was installed: a folder without it (an install cut short) or
 * with another pin is removed and installed again.
 */
const MARKER = 'ciclo-installed.txt';

function installed(dir: string, what: string): boolean {
  try {
    return fs.readFileSync(path.join(dir, MARKER), 'utf8') === what;
  } catch {
    return false;
  }
}

function failure(what: string, result: RunResult, hint: string): Error {
  const output = `${result.stderr}${result.stdout}`.trim().split('\n').slice(-15).join('\n');
  return new Error(`${what} failed (exit ${result.code}); ${hint}\n${output}`);
}

/** A venv with confluent-kafka at the pinned version; returns its python. */
export async function ensurePythonClient(toolsDir: string): Promise<string> {
  const venv = path.join(toolsDir, 'confluent-python');
  const python = path.join(venv, 'bin', 'python');
  if (installed(venv, PYTHON_REQUIREMENT)) return python;
  fs.rmSync(venv, { recursive: true, force: true });
  fs.mkdirSync(toolsDir, { recursive: true });
  const created = await run('python3', ['-m', 'venv', venv]).catch((err: NodeJS.ErrnoException) => {
    throw new Error(
      `python3 is needed to test Confluent's Python client (${err.code}): install it (apt-get install python3 python3-venv)`,
      { cause: err },
    );
  });
  if (created.code !== 0)
    throw failure(
      'python3 -m venv',
      created,
      'on Debian, venv and pip come with apt-get install python3-venv',
    );
  const pip = await run(
    python,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', PYTHON_REQUIREMENT],
    { timeoutMs: 600_000 },
  );
  if (pip.code !== 0) throw failure(`pip install ${PYTHON_REQUIREMENT}`, pip, 'PyPI must be reachable');
  fs.writeFileSync(path.join(venv, MARKER), PYTHON_REQUIREMENT);
  return python;
}

/** A folder with @confluentinc/schemaregistry at the pinned version; returns the folder. */
export async function ensureJsClient(toolsDir: string): Promise<string> {
  const dir = path.join(toolsDir, 'confluent-js');
  const what = `${JS_PACKAGE}@${CONFLUENT_SCHEMAREGISTRY_JS}`;
  if (installed(dir, what)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ private: true, dependencies: { [JS_PACKAGE]: CONFLUENT_SCHEMAREGISTRY_JS } }, null, 2),
  );
  const npm = await run('npm', ['install', '--no-audit', '--no-fund', '--omit=dev'], {
    cwd: dir,
    timeoutMs: 600_000,
  }).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`npm is needed to test Confluent's Node client (${err.code}): install Node.js with npm`, {
      cause: err,
    });
  });
  if (npm.code !== 0) throw failure(`npm install ${what}`, npm, 'the npm registry must be reachable');
  fs.writeFileSync(path.join(dir, MARKER), what);
  return dir;
}

/** How the readers are configured: as ciclo's docs say (`topic`), or left at the client's defaults. */
export type Strategy = 'topic' | 'default';

/** One line a reader printed: a decoded record, or the error that ended its run. */
export interface ReadLine {
  readonly topic: string;
  readonly key?: string;
  readonly value?: Record<string, unknown>;
  readonly error?: string;
  readonly status?: number | null;
  readonly calls?: readonly string[];
}

export interface ReadResult extends RunResult {
  readonly lines: readonly ReadLine[];
}

function parsed(result: RunResult): ReadResult {
  const lines = result.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ReadLine);
  return { ...result, lines };
}

/** Consumes the topics with confluent-kafka's DeserializingConsumer (test/support/confluent-clients/read_python.py). */
export async function readWithPython(options: {
  python: string;
  brokers: readonly string[];
  registryUrl: string;
  group: string;
  topics: readonly string[];
  expect: number;
  strategy: Strategy;
}): Promise<ReadResult> {
  const args = [
    READ_PYTHON,
    ...['--bootstrap', options.brokers.join(',')],
    ...['--registry', options.registryUrl],
    ...['--group', options.group],
    ...options.topics.flatMap((t) => ['--topic', t]),
    ...['--expect', String(options.expect)],
    ...['--strategy', options.strategy],
    ...['--timeout', '60'],
  ];
  return parsed(await run(options.python, args, { timeoutMs: 90_000 }));
}

/** Decodes records' bytes with @confluentinc/schemaregistry's AvroDeserializer (read_js.mjs). */
export async function readWithJs(options: {
  clientDir: string;
  registryUrl: string;
  records: readonly { topic: string; partition: number; offset: string; key: string | null; value: Buffer }[];
  strategy: Strategy;
}): Promise<ReadResult> {
  const input = JSON.stringify(options.records.map((r) => ({ ...r, value: r.value.toString('base64') })));
  const result = await run(process.execPath, [READ_JS, options.clientDir, options.strategy], {
    input,
    env: { SCHEMA_REGISTRY_URL: options.registryUrl },
    timeoutMs: 90_000,
  });
  return parsed(result);
}
