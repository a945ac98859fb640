/**
 * The installation's secret: the key of every keyed pseudonym ciclo writes (schemas/pseudonym.ts). Every
 * process of one installation must use the same one, or an email id written by the collector would not match
 * the one a webhook wrote, and a forget would miss ids. It comes from CICLO_PSEUDONYM_SECRET (base64 of at
 * least 32 bytes; what a deployment with several machines sets) or from `<CICLO_HOME>/secrets/pseudonym.key`,
 * created on first use with 32 random bytes, mode 0600, in a folder of mode 0700.
 *
 * Losing it changes every pseudonym: email ids of people seen before no longer match their new events, and
 * `ciclo forget` no longer finds their suppression and key records. Back it up with the data.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CicloError } from '../errors';
import { createPrivateFile } from '../private-file';

export const SECRET_BYTES = 32;

/** The secret file under a CICLO_HOME. */
export function installationSecretPath(home: string): string {
  return path.join(home, 'secrets', 'pseudonym.key');
}

/** The secret from `fromEnvironment` (base64), else the file under `home`, created when missing. */
export function loadInstallationSecret(home: string, fromEnvironment?: string): Buffer {
  if (fromEnvironment !== undefined) {
    const secret = Buffer.from(fromEnvironment, 'base64');
    if (secret.length < SECRET_BYTES)
      throw new CicloError(
        'CONFIG_INVALID',
        `CICLO_PSEUDONYM_SECRET must be base64 of at least ${SECRET_BYTES} bytes, got ${secret.length} byte(s)`,
      );
    return secret;
  }
  const file = installationSecretPath(home);
  const existing = readSecretFile(file);
  if (existing) return existing;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const fresh = randomBytes(SECRET_BYTES);
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = createPrivateFile(temporary);
  try {
    fs.writeSync(fd, fresh.toString('base64') + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    // link(2) fails when another process created the file first: then that one is the secret.
    fs.linkSync(temporary, file);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
  } finally {
    fs.unlinkSync(temporary);
  }
  return readSecretFile(file) ?? fresh;
}

function readSecretFile(file: string): Buffer | undefined {
  let text: string;
  try {
    const stat = fs.lstatSync(file);
    if (!stat.isFile())
      throw new CicloError(
        'FILE_UNSAFE',
        `${file} is not a regular file: ciclo does not read its secret through it`,
      );
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw err;
  }
  const secret = Buffer.from(text.trim(), 'base64');
  if (secret.length < SECRET_BYTES)
    throw new CicloError(
      'CONFIG_INVALID',
      `${file} must hold base64 of at least ${SECRET_BYTES} bytes, got ${secret.length}: restore it from a backup`,
    );
  return secret;
}
