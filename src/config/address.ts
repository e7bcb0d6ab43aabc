/** The Temporal frontend address of lakesync.yaml: host:port, checked before any connection is tried. */
import { isIPv4, isIPv6 } from 'node:net';

/** RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const HOST_PORT = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/;

export const HOST_PORT_FIX = 'give host:port, e.g. localhost:7233, 10.0.0.5:7233 or [::1]:7233 (no scheme such as http://)';

/** Why `address` is not host:port (a host name, an IPv4 address or a bracketed IPv6 one, a port 1-65535), or undefined. */
export function hostPortProblem(address: string): string | undefined {
  const match = HOST_PORT.exec(address);
  if (!match) return `is not host:port: ${HOST_PORT_FIX}`;
  const [, v6, host = '', portText = ''] = match;
  const port = Number(portText);
  if (port < 1 || port > 65535) return `port ${portText} is not a port number (1-65535): ${HOST_PORT_FIX}`;
  if (v6 !== undefined) return isIPv6(v6) ? undefined : `[${v6}] is not an IPv6 address: ${HOST_PORT_FIX}`;
  // Digits and dots only is meant as an IPv4 address, which must then be one.
  const hostOk = /^[\d.]+$/.test(host) ? isIPv4(host) : HOST_NAME.test(host);
  return hostOk ? undefined : `host ${JSON.stringify(host)} is not a host name or an IP address: ${HOST_PORT_FIX}`;
}
