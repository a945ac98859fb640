/**
 * Stage models as the CLI and the processor take them: a preset id, or the path of a custom model's JSON
 * file (`ciclo process --model ./my-model.json`). The model itself and its checks are the domain's
 * (processors/domain/model.ts); reading the file and the errors a user sees are here.
 */
import fs from 'node:fs';
import { CicloError } from '../../infra/errors';
import {
  InvalidStageModel,
  isPresetId,
  parseModel,
  presetModel,
  PRESET_IDS,
  type StageModel,
} from '../domain/model';

/** A preset id, or a path to a custom model's JSON file; CONFIG_INVALID naming what is wrong otherwise. */
export function loadModel(idOrPath: string): StageModel {
  try {
    return isPresetId(idOrPath) ? presetModel(idOrPath) : modelFile(idOrPath);
  } catch (err) {
    if (err instanceof InvalidStageModel) throw new CicloError('CONFIG_INVALID', err.message);
    throw err;
  }
}

function modelFile(file: string): StageModel {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new CicloError(
      'CONFIG_INVALID',
      `no stage model "${file}": use one of ${PRESET_IDS.join(', ')} or a path to a model JSON file`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CicloError(
      'CONFIG_INVALID',
      `stage model ${file} is not valid JSON: ${(err as Error).message}`,
    );
  }
  return parseModel(json, file);
}
