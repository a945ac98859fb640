import formResponse from './fixtures/typeform/form_response.json';
import npsResponse from './fixtures/typeform/nps_response.json';
import { emailAnonymousId } from '../../schemas/pseudonym';
import { TEST_PSEUDONYM_SECRET } from './fakes';
import type { WebhookMapping } from './outcome';
import { mapTypeformEvent } from './typeform';

const receivedAt = Date.UTC(2026, 2, 14, 9, 31);
const map = (body: unknown): WebhookMapping =>
  mapTypeformEvent(body, { receivedAt, pseudonymSecret: TEST_PSEUDONYM_SECRET, urlQueryAllowlist: [] });
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe('Typeform form_response to SurveyAnswered', () => {
  it('maps an NPS survey answered by a known customer (hidden field customer_id)', () => {
    expect(map(npsResponse)).toEqual({
      ok: true,
      ignored: [],
      touchpoints: [
        {
          eventId: 'typeform:x71for1wr6irs2rx71fotn12b3izh25v',
          type: 'SurveyAnswered',
          customerId: 'cus_8c1f2a',
          occurredAt: Date.UTC(2026, 2, 14, 9, 30),
          receivedAt,
          source: { kind: 'webhook', name: 'typeform' },
          payload: { surveyId: 'nps_q1', nps: 9, comment: 'Fast delivery' },
        },
      ],
    });
  });

  it("maps Typeform's documented example payload: the long-text answer is the comment, hidden user_id the customer", () => {
    const result = map(formResponse);
    expect(result).toMatchObject({
      ok: true,
      touchpoints: [
        {
          eventId: 'typeform:a3a12ec67a1365927098a606107fac15',
          customerId: 'abc123456',
          occurredAt: Date.parse('2018-01-18T18:17:02Z'),
          payload: {
            surveyId: 'lT4Z3j',
            comment:
              "It's cold right now! I live in an older medieval house in Belgium and there's no heating or insulation!",
          },
        },
      ],
    });
  });

  it('without a customer, uses an id derived from the answered email, else one for the response', () => {
    const byEmail = copy(formResponse) as { form_response: { hidden?: unknown } };
    delete byEmail.form_response.hidden;
    const tp = map(byEmail);
    expect(tp.ok && tp.touchpoints[0]?.anonymousId).toBe(
      emailAnonymousId(TEST_PSEUDONYM_SECRET, 'laura@example.com'),
    );
    const anonymous = copy(npsResponse) as { form_response: { hidden?: unknown } };
    delete anonymous.form_response.hidden;
    const anon = map(anonymous);
    expect(anon.ok && anon.touchpoints[0]?.anonymousId).toBe(
      'typeform-response:x71for1wr6irs2rx71fotn12b3izh25v',
    );
  });

  it('ignores partial responses and forms without an NPS, CSAT or comment answer', () => {
    expect(map({ ...copy(npsResponse), event_type: 'form_response_partial' })).toEqual({
      ok: true,
      touchpoints: [],
      ignored: [
        { id: '01HX4Q2W7K8JZ0N3M5P6R7S8T9', reason: 'event type form_response_partial is not mapped' },
      ],
    });
    const noSurvey = copy(formResponse);
    noSurvey.form_response.answers = noSurvey.form_response.answers.filter(
      (a) => a.field.type !== 'long_text',
    );
    expect(map(noSurvey)).toMatchObject({
      ok: true,
      touchpoints: [],
      ignored: [{ reason: 'no NPS, CSAT or comment answer' }],
    });
  });

  it('reports an out-of-range score at its answer', () => {
    const bad = copy(npsResponse);
    bad.form_response.answers[0]!.number = 11;
    expect(map(bad)).toEqual({
      ok: false,
      problems: [{ path: 'form_response.answers.0.number', rule: 'too_big', message: 'NPS must be 0-10' }],
    });
  });
});
