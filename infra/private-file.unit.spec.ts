import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CicloError } from './errors';
import { createPrivateFile } from './private-file';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-private-file-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (file: string, text: string): void => {
  const fd = createPrivateFile(file);
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
};

describe('createPrivateFile', () => {
  it('creates a file only its owner can read and write, whatever the umask lets through', () => {
    const file = path.join(dir, 'rows.rejected.ndjson');
    const umask = process.umask(0o000);
    try {
      write(file, 'x\n');
    } finally {
      process.umask(umask);
    }
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8')).toBe('x\n');
  });

  it('replaces a regular file an earlier run left, with the new mode', () => {
    const file = path.join(dir, 'rows.rejected.ndjson');
    fs.writeFileSync(file, 'earlier run, a longer text\n', { mode: 0o644 });
    write(file, 'new\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('new\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses to write through a symbolic link, leaving its target untouched', () => {
    const target = path.join(dir, 'victim.txt');
    fs.writeFileSync(target, 'precious\n');
    const link = path.join(dir, 'rows.rejected.ndjson');
    fs.symlinkSync(target, link);
    expect(() => createPrivateFile(link)).toThrow(CicloError);
    expect(() => createPrivateFile(link)).toThrow(/symbolic link/);
    expect(fs.readFileSync(target, 'utf8')).toBe('precious\n');
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('refuses a dangling link (which would create its target) and a directory', () => {
    const dangling = path.join(dir, 'dangling');
    fs.symlinkSync(path.join(dir, 'created-elsewhere'), dangling);
    expect(() => createPrivateFile(dangling)).toThrow(/symbolic link/);
    expect(fs.existsSync(path.join(dir, 'created-elsewhere'))).toBe(false);
    fs.mkdirSync(path.join(dir, 'folder'));
    expect(() => createPrivateFile(path.join(dir, 'folder'))).toThrow(/not a regular file/);
  });
});
