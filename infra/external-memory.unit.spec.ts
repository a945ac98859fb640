import { execFileSync } from 'node:child_process';
import { EXTERNAL_MEMORY_FLAG, wantsExternalMemoryInHeapLimit } from './external-memory';

describe('wantsExternalMemoryInHeapLimit', () => {
  it('on Node 24, the version it was measured on', () => {
    expect(wantsExternalMemoryInHeapLimit({}, [], 24)).toBe(true);
  });

  it('not on Node 20 or 22, whose V8 does not know the flag', () => {
    expect(wantsExternalMemoryInHeapLimit({}, [], 20)).toBe(false);
    expect(wantsExternalMemoryInHeapLimit({}, [], 22)).toBe(false);
  });

  it('not when asked for the default, nor when the flag was given already', () => {
    expect(wantsExternalMemoryInHeapLimit({ CICLO_EXTERNAL_MEMORY: 'default' }, [], 24)).toBe(false);
    expect(wantsExternalMemoryInHeapLimit({}, [EXTERNAL_MEMORY_FLAG], 24)).toBe(false);
    expect(wantsExternalMemoryInHeapLimit({}, ['--external_memory_accounted_in_global_limit'], 24)).toBe(
      false,
    );
    expect(wantsExternalMemoryInHeapLimit({}, ['--no-external-memory-accounted-in-global-limit'], 24)).toBe(
      false,
    );
  });

  it("is wanted on this Node exactly when this Node's V8 knows the flag", () => {
    const v8Options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
    expect(wantsExternalMemoryInHeapLimit({}, [])).toBe(v8Options.includes(EXTERNAL_MEMORY_FLAG));
  });
});
