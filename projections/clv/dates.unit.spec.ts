import { dayNumber, formatIsoDay, parseCompactDay, parseIsoDay } from './dates';

describe('calendar days', () => {
  it('counts days since 1970-01-01 so that differences are exact', () => {
    expect(dayNumber(1970, 1, 1)).toBe(0);
    expect(parseIsoDay('1997-09-30')! - parseIsoDay('1997-01-01')!).toBe(272);
    expect(parseCompactDay('19970930')).toBe(parseIsoDay('1997-09-30'));
    expect(formatIsoDay(parseIsoDay('1998-06-30')!)).toBe('1998-06-30');
  });

  it.each(['1997-02-29', '1997-13-01', '97-09-30', '1997-9-30', '1997-09-30T00:00', ''])(
    'refuses %p',
    (text) => expect(parseIsoDay(text)).toBeUndefined(),
  );

  it('refuses dates that do not exist in the compact form too', () => {
    expect(parseCompactDay('19970230')).toBeUndefined();
    expect(parseCompactDay('1997023')).toBeUndefined();
  });
});
