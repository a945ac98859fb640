import { restorePlan, type RegisteredSchema } from './registry-service';

const schema = (id: number, subject: string, version = 1): RegisteredSchema => ({
  id,
  subject,
  version,
  schema: `{"type":"record","name":"S${id}","fields":[]}`,
});
/** The plan as text: `+subject@id` registers, `-subject` is a refused registration against it. */
const planOf = (saved: RegisteredSchema[]): string[] =>
  restorePlan(saved).map((s) =>
    s.kind === 'register' ? `+${s.entry.subject}@${s.entry.id}` : `-${s.subject}`,
  );

describe('restoring the native registry', () => {
  it('registers schemas whose ids the registry hands out in sequence, and nothing else', () => {
    expect(planOf([schema(1, 'a'), schema(3, 'b'), schema(5, 'a', 2)])).toEqual(['+a@1', '+b@3', '+a@5']);
  });

  it('spends each id the original run lost to a refused registration, against the subject restored last', () => {
    // As measured after a test run: 99 then 102 (one refusal between them), and two refusals before 107.
    expect(
      planOf([schema(1, 'a'), schema(3, 'b'), schema(6, 'c'), schema(8, 'c', 2), schema(12, 'd')]),
    ).toEqual(['+a@1', '+b@3', '-b', '+c@6', '+c@8', '-c', '-c', '+d@12']);
  });

  it('cannot spend ids before the first schema: it registers as it is and the restore reports the move', () => {
    expect(planOf([schema(4, 'a'), schema(6, 'b')])).toEqual(['+a@4', '+b@6']);
    expect(planOf([])).toEqual([]);
  });
});
