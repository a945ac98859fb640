/**
 * Creating a file that holds data from ciclo's input (an import's rejected rows: personal data, verbatim)
 * so that only its owner can read it and nobody can redirect it. Created with mode 0600, and with
 * O_CREAT|O_EXCL|O_NOFOLLOW: the open fails rather than follow a symbolic link planted at the path (which
 * would make ciclo write, or truncate, a file of the planter's choosing: CWE-59) or reuse a file someone
 * else created there with looser permissions. A regular file an earlier run left at the path is removed and
 * created anew, so a second run does not append to the first's.
 */
import fs from 'node:fs';
import { CicloError } from './errors';

const { O_WRONLY, O_CREAT, O_EXCL } = fs.constants;
// Absent on Windows, where O_EXCL alone refuses an existing link.
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
export const PRIVATE_FILE_MODE = 0o600;

const codeOf = (err: unknown): unknown => (err as { code?: unknown } | null)?.code;

/** Opens `filePath` for writing as a new private file (see above); returns its descriptor. */
export function createPrivateFile(filePath: string): number {
  try {
    return fs.openSync(filePath, FLAGS, PRIVATE_FILE_MODE);
  } catch (err) {
    if (codeOf(err) !== 'EEXIST') throw err;
  }
  const existing = fs.lstatSync(filePath);
  if (!existing.isFile())
    throw new CicloError(
      'FILE_UNSAFE',
      `${filePath} exists and is ${existing.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}: ` +
        'ciclo does not write through it; remove it, or run from another folder',
    );
  fs.unlinkSync(filePath);
  try {
    return fs.openSync(filePath, FLAGS, PRIVATE_FILE_MODE);
  } catch (err) {
    // Something appeared at the path between the removal and the open: someone else is writing there.
    if (codeOf(err) === 'EEXIST')
      throw new CicloError(
        'FILE_UNSAFE',
        `${filePath} was created by another process while ciclo replaced it`,
        {
          cause: err,
        },
      );
    throw err;
  }
}
