import { campaignFrom } from './campaign';

describe('campaignFrom', () => {
  it('maps utm_* to Segment campaign fields, utm_campaign to name', () => {
    expect(
      campaignFrom(
        '?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale&utm_term=vinyl&utm_content=hero&x=1',
      ),
    ).toEqual({ source: 'newsletter', medium: 'email', name: 'spring sale', term: 'vinyl', content: 'hero' });
  });

  it('keeps only the parameters present, and is undefined without any', () => {
    expect(campaignFrom('utm_source=google')).toEqual({ source: 'google' });
    expect(campaignFrom('?page=2')).toBeUndefined();
    expect(campaignFrom('')).toBeUndefined();
    expect(campaignFrom('?utm_source=')).toBeUndefined();
  });
});
