/**
 * The Segment calls the snippet sends (https://segment.com/docs/connections/spec/): page, identify, track
 * and alias, each with a `messageId` made once when the call is made, so every retry of it carries the same
 * id and the collector derives the same eventId from it (schemas/event-id.ts); a `timestamp` of
 * when it happened, so an event delivered late still counts at its time; and the page it happened on,
 * keeping as little of its URLs as the collector would (minimizedPage). Pure: ids, the clock and the page are
 * passed in.
 */
import {
  minimizeQuery,
  minimizeReferrer,
  minimizeUrl,
  type QueryAllowlist,
} from '../../edge/url-minimization';
import { campaignFrom, type Campaign } from './campaign';

export type CallType = 'page' | 'identify' | 'track' | 'alias';
export type Properties = Record<string, unknown>;

/** What the browser knows about the page, read at the time of the call. */
export interface PageInfo {
  readonly url: string;
  readonly path: string;
  readonly search: string;
  readonly referrer: string;
  readonly title: string;
}

export interface CallContext {
  page: PageInfo;
  campaign?: Campaign;
  userAgent?: string;
  locale?: string;
  library: { name: string; version: string };
}

export interface Call {
  type: CallType;
  messageId: string;
  /** ISO 8601, when the call was made. */
  timestamp: string;
  anonymousId: string;
  userId?: string;
  context: CallContext;
  event?: string;
  name?: string;
  category?: string;
  properties?: Properties;
  traits?: Properties;
  previousId?: string;
}

export const LIBRARY = { name: 'ciclo.js', version: '0.1.0' } as const;

/** Everything a call is made from besides its own arguments. */
export interface CallEnv {
  readonly messageId: string;
  readonly now: number;
  readonly anonymousId: string;
  readonly userId: string | undefined;
  readonly page: PageInfo;
  readonly userAgent?: string | undefined;
  readonly locale?: string | undefined;
}

/** The page's URL without its fragment, as Segment reports it (the fragment never reaches a server). */
export function pageInfo(
  location: { href: string; pathname: string; search: string },
  referrer: string,
  title: string,
): PageInfo {
  const hash = location.href.indexOf('#');
  return {
    url: hash < 0 ? location.href : location.href.slice(0, hash),
    path: location.pathname,
    search: location.search,
    referrer,
    title,
  };
}

/**
 * The page as calls carry it (or a site's own page properties), by the collector's own rule
 * (producers/edge/url-minimization.ts), applied before a call is stored or sent: the URL, path and search
 * keep only `utm_*` parameters and those in `allowlist`, the URL no user info and no fragment; the referrer
 * only its origin (`https://news.example/`).
 */
export function minimizedPage<T extends Properties | PageInfo>(page: T, allowlist: QueryAllowlist): T {
  const { url, path, search, referrer } = page;
  const kept: Properties = { ...page };
  if (typeof url === 'string') kept.url = minimizeUrl(url, allowlist);
  if (typeof path === 'string') kept.path = minimizeUrl(path, allowlist);
  if (typeof search === 'string') kept.search = minimizeQuery(search, allowlist);
  if (typeof referrer === 'string' && referrer !== '') kept.referrer = minimizeReferrer(referrer);
  return kept as T;
}

export function makeCall(type: CallType, env: CallEnv, fields: Partial<Call>): Call {
  const campaign = campaignFrom(env.page.search);
  const context: CallContext = { page: env.page, library: { ...LIBRARY } };
  if (campaign) context.campaign = campaign;
  if (env.userAgent) context.userAgent = env.userAgent;
  if (env.locale) context.locale = env.locale;
  const call: Call = {
    type,
    messageId: env.messageId,
    timestamp: new Date(env.now).toISOString(),
    anonymousId: env.anonymousId,
    context,
    ...fields,
  };
  if (env.userId !== undefined && call.userId === undefined) call.userId = env.userId;
  return call;
}

const isProperties = (v: unknown): v is Properties =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * analytics.js's page signatures: `page()`, `page(name)`, `page(name, properties)`, `page(properties)`,
 * `page(category, name, properties)`. The page's url, path, search, referrer and title are properties too
 * (as Segment sends them); the caller's own properties win.
 */
export function pageFields(
  args: readonly unknown[],
  page: PageInfo,
  allowlist: QueryAllowlist = [],
): Partial<Call> {
  const strings = args.filter((a): a is string => typeof a === 'string');
  const own = args.find(isProperties);
  const properties = own && minimizedPage(own, allowlist);
  const [category, name] = strings.length >= 2 ? strings : [undefined, strings[0]];
  const fields: Partial<Call> = {
    properties: {
      url: page.url,
      path: page.path,
      search: page.search,
      referrer: page.referrer,
      title: page.title,
      ...properties,
    },
  };
  if (name !== undefined) fields.name = name;
  if (category !== undefined) fields.category = category;
  return fields;
}

export { isProperties };
