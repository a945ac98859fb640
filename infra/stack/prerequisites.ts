/** Checks for the tools the native stack needs, each failing with one line that says what to do. */
import { CicloError } from '../errors';
import { execFileAsync } from './processes';

export async function requireJava(minMajor: number): Promise<void> {
  let output: string;
  try {
    const { stderr, stdout } = await execFileAsync('java', ['-version']);
    output = `${stderr}${stdout}`;
  } catch {
    throw new CicloError(
      'PREREQUISITE_MISSING',
      `Java ${minMajor}+ is required for Kafka: install it (e.g. apt-get install openjdk-${minMajor}-jre-headless) or set KAFKA_BROKERS`,
    );
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  const major = match ? Number(match[1] === '1' ? match[2] : match[1]) : 0;
  if (major < minMajor) {
    throw new CicloError(
      'PREREQUISITE_MISSING',
      `Java ${minMajor}+ is required for Kafka, found ${major || 'unknown'}: install a newer JDK or set KAFKA_BROKERS`,
    );
  }
}

export async function requireMaven(forWhat: string): Promise<void> {
  try {
    await execFileAsync('mvn', ['-v']);
  } catch {
    throw new CicloError(
      'PREREQUISITE_MISSING',
      `Maven (mvn) is required to fetch ${forWhat} from Maven Central: install it (e.g. apt-get install maven)`,
    );
  }
}

export async function commandExists(command: string): Promise<boolean> {
  try {
    await execFileAsync('sh', ['-c', `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs a Debian package when running as root with apt-get; otherwise fails saying what to run.
 * Used for services and tools ciclo takes from Debian (clickhouse-server, chromium for browser tests).
 */
export async function installDebianPackage(pkg: string, alternative: string): Promise<void> {
  const canApt = process.getuid?.() === 0 && (await commandExists('apt-get'));
  if (!canApt)
    throw new CicloError(
      'PREREQUISITE_MISSING',
      `${pkg} is not installed: run \`sudo apt-get install ${pkg}\`, ${alternative}`,
    );
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await execFileAsync('apt-get', ['update', '-qq'], { env, maxBuffer: 64 * 1024 * 1024 });
    await execFileAsync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], {
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    throw new CicloError(
      'INSTALL_FAILED',
      `apt-get could not install ${pkg}: ${(err as Error).message.slice(-400)}`,
      {
        cause: err,
        retriable: true,
      },
    );
  }
}
