import { CicloError } from '../infra/errors';
import { dateLiteral, identifier, integerLiteral, stringLiteral } from './sql';

describe('SQL literals (the one place values reach SQL)', () => {
  it('formats valid values', () => {
    expect(dateLiteral('1997-02-28')).toBe("toDate('1997-02-28')");
    expect(stringLiteral("o'brien\\")).toBe("'o\\'brien\\\\'");
    expect(identifier('ciclo_test')).toBe('ciclo_test');
    expect(integerLiteral(42)).toBe('42');
  });

  it.each([
    () => dateLiteral('1997-02-30', '--from'),
    () => dateLiteral("1997-01-01' OR 1=1 --"),
    () => identifier('ciclo; DROP TABLE x'),
    () => integerLiteral(1.5),
  ])('rejects what is not a valid value (%#)', (format) => {
    expect(format).toThrow(CicloError);
  });

  it('names the option and the value in the error', () => {
    expect(() => dateLiteral('1997-02-30', '--from')).toThrow(
      '--from must be a real date as yyyy-mm-dd, got "1997-02-30"',
    );
  });
});
