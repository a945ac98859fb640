/**
 * UTM parameters from a page's query string to Segment's `context.campaign`
 * (https://segment.com/docs/connections/spec/common/#context): utm_campaign is `name`, the others keep
 * their suffix. Pure: the caller passes `location.search`.
 */
export interface Campaign {
  name?: string;
  source?: string;
  medium?: string;
  term?: string;
  content?: string;
}

const UTM_FIELDS = [
  ['utm_campaign', 'name'],
  ['utm_source', 'source'],
  ['utm_medium', 'medium'],
  ['utm_term', 'term'],
  ['utm_content', 'content'],
] as const;

/** The campaign named by `utm_*` parameters in `search` (with or without its `?`), or undefined without any. */
export function campaignFrom(search: string): Campaign | undefined {
  const params = new URLSearchParams(search);
  const campaign: Campaign = {};
  let found = false;
  for (const [param, field] of UTM_FIELDS) {
    const value = params.get(param);
    if (value) {
      campaign[field] = value;
      found = true;
    }
  }
  return found ? campaign : undefined;
}
