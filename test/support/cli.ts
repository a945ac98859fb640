/** Runs the built `ciclo` command as a user would, with the provisioned services in its environment. */
import { execFile } from 'node:child_process';
import path from 'node:path';

export const CICLO_BIN = path.resolve(__dirname, '..', '..', 'bin', 'ciclo.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCiclo(
  args: readonly string[],
  /** `inheritEnv: false`: `env` is the whole environment (a child of another stack than the shared one). */
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; inheritEnv?: boolean } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CICLO_BIN, ...args],
      {
        env: options.inheritEnv === false ? { ...options.env } : { ...process.env, ...options.env },
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
