import { execFileSync } from 'node:child_process';
import { EXTERNAL_MEMORY_FLAG, wantsExternalMemoryInHeapLimit, wantsRoomyIsolate } from './processor-heap';

describe('wantsRoomyIsolate', () => {
  it('starts a worker thread from the main thread by default (on Node 20)', () => {
    expect(wantsRoomyIsolate({}, [], true, 20)).toBe(true);
    expect(
      wantsRoomyIsolate({ NODE_OPTIONS: '--max-old-space-size=4096' }, ['--enable-source-maps'], true, 20),
    ).toBe(true);
  });

  it('leaves a semi-space size the user gave as it is, in node flags or NODE_OPTIONS', () => {
    expect(wantsRoomyIsolate({}, ['--max-semi-space-size=16'], true, 20)).toBe(false);
    expect(wantsRoomyIsolate({ NODE_OPTIONS: '--inspect --max_semi_space_size=8' }, [], true, 20)).toBe(
      false,
    );
  });

  it('only on the Node versions it was measured to help, unless asked for', () => {
    expect(wantsRoomyIsolate({}, [], true, 24)).toBe(false);
    expect(wantsRoomyIsolate({ CICLO_YOUNG_GENERATION: 'large' }, [], true, 24)).toBe(true);
  });

  it('not when asked for the default, nor from a worker thread', () => {
    expect(wantsRoomyIsolate({ CICLO_YOUNG_GENERATION: 'default' }, [], true, 20)).toBe(false);
    expect(wantsRoomyIsolate({}, [], false, 20)).toBe(false);
  });
});

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
