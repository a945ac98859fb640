/**
 * The loader a site pastes into its HTML, after Segment's analytics.js snippet: a stub `ciclo` that records
 * calls made before the real script has arrived, a tag that loads the script asynchronously (so it never
 * blocks rendering), then `load` and a first `page`. When the script runs it replays the recorded calls
 * (browser/main.ts). Written in ES5 so it runs in any browser that runs the page.
 */
export interface LoaderOptions {
  /** The collector's base URL, e.g. https://collect.example.com */
  readonly host: string;
  readonly writeKey: string;
  /** Where the script is served from; defaults to the collector's own /snippet/ciclo.min.js. */
  readonly src?: string;
  /** Other load options (flushAt, flushInterval, maxRetryDelay, queryAllowlist). */
  readonly options?: Readonly<Record<string, number | readonly string[]>>;
}

/** What a page may call before the script arrives; `user()` answers only once it has. */
export const STUB_METHODS = ['load', 'page', 'identify', 'track', 'alias', 'flush', 'reset'] as const;

/** A JS literal safe inside an HTML <script> element (no `</script>` or `<!--` can appear in it). */
const literal = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

/** The `<script>` element to paste into every page. */
export function loaderSnippet(o: LoaderOptions): string {
  const src = o.src ?? `${o.host.replace(/\/+$/, '')}/snippet/ciclo.min.js`;
  const load = { ...o.options, writeKey: o.writeKey, host: o.host };
  return `<script>
!function(w,d){var c=w.ciclo=w.ciclo||[];if(!c.push||c.invoked)return;c.invoked=!0;
${literal(STUB_METHODS)}.forEach(function(m){c[m]=function(){c.push([m].concat([].slice.call(arguments)));return c}});
var s=d.createElement("script");s.async=!0;s.src=${literal(src)};d.head.appendChild(s);
c.load(${literal(load)});c.page()}(window,document);
</script>`;
}
