import vm from 'node:vm';
import { STUB_METHODS, loaderSnippet } from './loader';

/** Runs the pasted snippet's script in a bare window with a document that records inserted scripts. */
function runLoader(html: string) {
  const script = /^<script>([\s\S]*)<\/script>$/.exec(html)![1]!;
  const inserted: { async?: boolean; src?: string }[] = [];
  const window: Record<string, unknown> = {};
  const document = {
    createElement: () => ({}),
    head: { appendChild: (el: { async?: boolean; src?: string }) => inserted.push(el) },
  };
  vm.runInNewContext(script, { window, document });
  return {
    ciclo: window.ciclo as unknown[][] & Record<string, (...args: unknown[]) => unknown>,
    inserted,
    script,
  };
}

describe('loaderSnippet', () => {
  it('records calls made before the script arrives, starting with load and a page view', () => {
    const { ciclo, inserted } = runLoader(
      loaderSnippet({
        host: 'https://collect.example.com/',
        writeKey: 'wk_pub',
        options: { flushAt: 5, queryAllowlist: ['ref'] },
      }),
    );
    expect(inserted).toEqual([{ async: true, src: 'https://collect.example.com/snippet/ciclo.min.js' }]);
    ciclo.track!('Clicked', { n: 1 });
    expect([...ciclo]).toEqual([
      [
        'load',
        { flushAt: 5, queryAllowlist: ['ref'], writeKey: 'wk_pub', host: 'https://collect.example.com/' },
      ],
      ['page'],
      ['track', 'Clicked', { n: 1 }],
    ]);
    for (const m of STUB_METHODS) expect(typeof ciclo[m]).toBe('function');
  });

  it('cannot be broken out of its script element by the values put in it', () => {
    const html = loaderSnippet({ host: 'https://c.example.com', writeKey: '</script><script>alert(1)//' });
    expect(html.match(/<\/script>/g)).toHaveLength(1);
    expect((runLoader(html).ciclo[0]![1] as { writeKey: string }).writeKey).toBe(
      '</script><script>alert(1)//',
    );
  });
});
