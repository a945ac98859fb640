import { wantsRoomyIsolate } from './processor-heap';

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
