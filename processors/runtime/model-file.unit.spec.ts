import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CicloError } from '../../infra/errors';
import { loadModel } from './model-file';

describe('stage models by preset id or file', () => {
  it('loads a preset by its id', () => {
    expect(loadModel('four-stage').id).toBe('four-stage');
  });

  it('an unknown model id says what exists', () => {
    expect(() => loadModel('seven-stage')).toThrow('use one of five-stage, six-stage, four-stage');
  });

  it('a custom model file: read, checked, and its problems named as a configuration error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-model-'));
    const good = path.join(dir, 'good.json');
    fs.writeFileSync(good, JSON.stringify({ ...loadModel('five-stage'), id: 'my-model' }));
    expect(loadModel(good).id).toBe('my-model');
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ id: 'x' }));
    expect(() => loadModel(bad)).toThrow(CicloError);
    expect(() => loadModel(bad)).toThrow(`invalid stage model ${bad}`);
    const notJson = path.join(dir, 'not.json');
    fs.writeFileSync(notJson, '{');
    expect(() => loadModel(notJson)).toThrow('is not valid JSON');
  });
});
