/**
 * What the collector keeps of the IP address a call carries (`context.ip`, Segment's field; the collector
 * never takes the address of the request itself): nothing unless configured (CICLO_COLLECTOR_IP=none, the
 * default), else the network only (`truncated`), as Google Analytics' IP anonymization does
 * (https://support.google.com/analytics/answer/2763052): an IPv4 address with its last octet set to zero
 * (its /24), an IPv6 address with all but its first 48 bits set to zero (its /48). An IP address is personal
 * data (CJEU C-582/14, Breyer); its /24 or /48 still tells a region or a network, not a subscriber.
 *
 * `192.0.2.57` -> `192.0.2.0`; `2001:db8:85a3:8d3:1319:8a2e:370:7348` -> `2001:db8:85a3::`; an IPv4-mapped
 * IPv6 address (`::ffff:192.0.2.57`) is its IPv4 address (`192.0.2.0`). A value that is not one address
 * (a list, a host name) cannot be truncated and is dropped. Pure.
 */
import { isIPv4, isIPv6 } from 'node:net';

export const IP_RETENTIONS = ['none', 'truncated'] as const;
export type IpRetention = (typeof IP_RETENTIONS)[number];

/** The address as the touchpoint keeps it, or undefined: nothing kept. */
export function retainedIp(ip: string, retention: IpRetention): string | undefined {
  switch (retention) {
    case 'none':
      return undefined;
    case 'truncated':
      return truncatedIp(ip);
    default: {
      const unreachable: never = retention;
      throw new Error(`unknown IP retention ${String(unreachable)}`);
    }
  }
}

/** An IPv4 address's /24 or an IPv6 address's /48, written as an address; undefined for anything else. */
export function truncatedIp(ip: string): string | undefined {
  if (isIPv4(ip)) return ipv4Network(ip);
  if (!isIPv6(ip)) return undefined;
  const groups = ipv6Groups(ip);
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) {
    const [high = 0, low = 0] = groups.slice(6);
    return ipv4Network(`${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`);
  }
  return formatIpv6([...groups.slice(0, 3), 0, 0, 0, 0, 0]);
}

function ipv4Network(ip: string): string {
  return `${ip.slice(0, ip.lastIndexOf('.'))}.0`;
}

/** The eight 16-bit groups of a valid IPv6 address (zone id dropped, a dotted IPv4 tail read as two groups). */
function ipv6Groups(ip: string): number[] {
  let text = ip.includes('%') ? ip.slice(0, ip.indexOf('%')) : ip;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const first = parse(head);
  if (rest === undefined) return first;
  const last = parse(rest);
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
}

/** RFC 5952's text: lower-case hex without leading zeros, the longest run of two or more zero groups as `::`. */
function formatIpv6(groups: readonly number[]): string {
  let best = { at: -1, length: 1 };
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j += 1;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.length).join(':')}`;
}
