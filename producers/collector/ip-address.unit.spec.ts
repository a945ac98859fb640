import { retainedIp, truncatedIp } from './ip-address';

describe('retainedIp', () => {
  it('keeps nothing unless configured', () => {
    expect(retainedIp('192.0.2.57', 'none')).toBeUndefined();
    expect(retainedIp('2001:db8::1', 'none')).toBeUndefined();
  });

  it('keeps the network when truncated: an IPv4 /24, an IPv6 /48', () => {
    expect(retainedIp('192.0.2.57', 'truncated')).toBe('192.0.2.0');
    expect(retainedIp('2001:db8:85a3:8d3:1319:8a2e:370:7348', 'truncated')).toBe('2001:db8:85a3::');
  });
});

describe('truncatedIp', () => {
  it('zeroes the last octet of an IPv4 address', () => {
    expect(truncatedIp('10.0.0.255')).toBe('10.0.0.0');
    expect(truncatedIp('203.0.113.0')).toBe('203.0.113.0');
  });

  it('keeps the first 48 bits of an IPv6 address, written as RFC 5952 says', () => {
    expect(truncatedIp('2001:0DB8:0001:0002:0003:0004:0005:0006')).toBe('2001:db8:1::');
    expect(truncatedIp('2001:db8::8a2e:370:7334')).toBe('2001:db8::');
    expect(truncatedIp('2001:0:0:1::1')).toBe('2001::');
    expect(truncatedIp('::1')).toBe('::');
    expect(truncatedIp('fe80::1%eth0')).toBe('fe80::');
    expect(truncatedIp('64:ff9b:1::192.0.2.33')).toBe('64:ff9b:1::');
  });

  it('truncates an IPv4-mapped IPv6 address as the IPv4 address it is', () => {
    expect(truncatedIp('::ffff:192.0.2.57')).toBe('192.0.2.0');
    expect(truncatedIp('::ffff:c000:239')).toBe('192.0.2.0');
  });

  it('drops what is not one address', () => {
    for (const value of ['', 'localhost', '192.0.2.57, 10.0.0.1', ' 192.0.2.57', '192.0.2', '2001:db8::g'])
      expect(truncatedIp(value)).toBeUndefined();
  });
});
