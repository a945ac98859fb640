import { minimizeQuery, minimizeReferrer, minimizeUrl } from './url-minimization';

describe('minimizeUrl: a page URL keeps scheme, host, port, path, utm_* and allowed parameters', () => {
  it('drops user info, the fragment and every parameter but utm_* and the allowlist', () => {
    expect(
      minimizeUrl(
        'https://ana:pw@shop.example:8443/cart?email=ana%40example.com&utm_source=news&page=2#pay',
        [],
      ),
    ).toBe('https://shop.example:8443/cart?utm_source=news');
    expect(minimizeUrl('https://shop.example/cart?email=a%40b.c&page=2&utm_medium=email', ['page'])).toBe(
      'https://shop.example/cart?page=2&utm_medium=email',
    );
  });

  it('keeps the kept parameters as sent: their order, their encoding, repeated ones', () => {
    expect(
      minimizeUrl('https://shop.example/?utm_campaign=spring%20sale&token=x&utm_source=a+b&utm_source=c', []),
    ).toBe('https://shop.example/?utm_campaign=spring%20sale&utm_source=a+b&utm_source=c');
  });

  it('compares parameter names decoded and case-sensitively', () => {
    expect(minimizeUrl('https://shop.example/?utm%5Fsource=x&%70age=2&UTM_SOURCE=y&Page=3', ['page'])).toBe(
      'https://shop.example/?utm%5Fsource=x&%70age=2',
    );
    // A name that is not valid percent-encoding is compared as sent.
    expect(minimizeUrl('https://shop.example/?a%zz=1&utm_term=k', ['a%zz'])).toBe(
      'https://shop.example/?a%zz=1&utm_term=k',
    );
  });

  it('drops a query left empty, and a bare `?` or `#`', () => {
    expect(minimizeUrl('https://shop.example/p?session=abc', [])).toBe('https://shop.example/p');
    expect(minimizeUrl('https://shop.example/p?#', [])).toBe('https://shop.example/p');
    expect(minimizeUrl('https://shop.example/p?&&utm_id=1&', [])).toBe('https://shop.example/p?utm_id=1');
  });

  it('leaves a URL with nothing to drop as it is', () => {
    for (const url of ['https://shop.example/records/kind-of-blue', 'http://127.0.0.1:8080/', '/records'])
      expect(minimizeUrl(url, [])).toBe(url);
  });

  it('keeps a path with a query (a PageViewed path) by the same rule', () => {
    expect(minimizeUrl('/search?q=ana+lima&utm_source=x#results', [])).toBe('/search?utm_source=x');
    expect(minimizeUrl('/orders/1042?token=t', ['token'])).toBe('/orders/1042?token=t');
    expect(minimizeUrl('//cdn.example/p?x=1', [])).toBe('//cdn.example/p');
  });

  it('keeps the host of other schemes, and only the scheme of a URL whose path is not a path', () => {
    expect(minimizeUrl('android-app://com.example.shop/screen?user=ana', [])).toBe(
      'android-app://com.example.shop/screen',
    );
    expect(minimizeUrl('mailto:ana@example.com?subject=hi', [])).toBe('mailto:');
    expect(minimizeUrl('file:///home/ana/page.html?x=1', [])).toBe('file:///home/ana/page.html');
  });

  it('cuts something that is not a URL at its first ? or #', () => {
    expect(minimizeUrl('shop.example/cart?email=ana@example.com', [])).toBe('shop.example/cart');
    expect(minimizeUrl('Home screen#tab=2', [])).toBe('Home screen');
    expect(minimizeUrl('http://exa mple.com/?q=1', [])).toBe('http://exa mple.com/');
    expect(minimizeUrl('', [])).toBe('');
  });
});

describe('minimizeReferrer: a referrer keeps its origin, as strict-origin-when-cross-origin sends it', () => {
  it('keeps scheme, host and port, with the trailing slash browsers send', () => {
    expect(minimizeReferrer('https://www.google.com/search?q=ana+lima')).toBe('https://www.google.com/');
    expect(minimizeReferrer('http://user:pw@news.example:8080/a/b?c=d#e')).toBe('http://news.example:8080/');
    expect(minimizeReferrer('https://news.example')).toBe('https://news.example/');
    expect(minimizeReferrer('https://[2001:db8::1]:8443/x')).toBe('https://[2001:db8::1]:8443/');
    expect(minimizeReferrer('android-app://com.google.android.gm/')).toBe(
      'android-app://com.google.android.gm/',
    );
    expect(minimizeReferrer('//news.example/a?b')).toBe('//news.example/');
  });

  it('keeps the scheme of a URL without a host; cuts what is not a URL', () => {
    expect(minimizeReferrer('about:blank')).toBe('about:');
    expect(minimizeReferrer('newsletter?id=ana@example.com')).toBe('newsletter');
  });
});

describe('minimizeQuery', () => {
  it('takes a query string with or without its ?', () => {
    expect(minimizeQuery('?utm_source=a&x=1', [])).toBe('?utm_source=a');
    expect(minimizeQuery('x=1&ref=partner', ['ref'])).toBe('?ref=partner');
    expect(minimizeQuery('', [])).toBe('');
    expect(minimizeQuery('?x=1', [])).toBe('');
  });
});
