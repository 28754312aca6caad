// Why: fake HTTP far hosts for the lab: a tiny package registry (downloads, large transfers)
// and a fake cloud metadata service (AWS IMDSv1/v2 and GCP shapes). Scenarios for ingress
// transfer and metadata credential theft need something that answers like the real thing,
// while every byte stays inside the lab netns (SAFETY.md rules 1-2). Credentials are fake.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';

/** Upper bound for /big so a runaway test cannot stream forever. */
export const MAX_BIG_BYTES = 1 << 30;

const PKG = gzipSync(Buffer.from('corral-lab fake package\n'.repeat(64)));

function reply(res: ServerResponse, status: number, body: string | Buffer, type = 'text/plain'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function streamBytes(res: ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  const chunk = Buffer.alloc(1024 * 1024, 0x61); // large writes keep the fake server cheap, so benchmarks measure the path, not the source
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { res.once('drain', pump); return; }
    }
    res.end();
  };
  res.on('close', () => { left = 0; });
  pump();
}

/** The registry: GET /pkg.tar.gz, GET /big?bytes=N, POST /upload (reads the body, answers its size), anything else 200 'ok'. */
export function handleRegistry(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://registry.test');
  if (req.method === 'POST' && url.pathname === '/upload') {
    let n = 0;
    req.on('data', (c: Buffer) => { n += c.length; });
    req.on('end', () => reply(res, 200, `${n}\n`));
    return;
  }
  if (req.method === 'GET' && url.pathname === '/pkg.tar.gz') return reply(res, 200, PKG, 'application/gzip');
  if (req.method === 'GET' && url.pathname === '/big') {
    const n = Number(url.searchParams.get('bytes') ?? '0');
    if (!Number.isInteger(n) || n < 0 || n > MAX_BIG_BYTES) return reply(res, 400, 'bad bytes\n');
    return streamBytes(res, n);
  }
  reply(res, 200, 'ok\n');
}

const ROLE = 'corral-lab-role';
const AWS_META: Record<string, string> = {
  '': 'ami-id\nhostname\ninstance-id\ninstance-type\nlocal-ipv4\niam/\n',
  'ami-id': 'ami-0123456789abcdef0',
  'hostname': 'ip-10-0-0-5.lab.test',
  'instance-id': 'i-0123456789abcdef0',
  'instance-type': 't3.micro',
  'local-ipv4': '10.0.0.5',
  'iam/': 'security-credentials/\n',
  'iam/security-credentials/': `${ROLE}\n`,
  [`iam/security-credentials/${ROLE}`]: JSON.stringify({
    Code: 'Success', Type: 'AWS-HMAC', AccessKeyId: 'ASIACORRALLABFAKE0000',
    SecretAccessKey: 'corral-lab-fake-secret-not-a-real-key', Token: 'corral-lab-fake-session-token',
    Expiration: '2099-01-01T00:00:00Z',
  }),
};

/** Fake metadata: PUT /latest/api/token, GET /latest/meta-data/..., GCP /computeMetadata/v1/... */
export function handleMetadata(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://metadata.test').pathname;
  if (req.method === 'PUT' && path === '/latest/api/token') return reply(res, 200, 'corral-lab-fake-imds-token');
  if (req.method === 'GET' && path.startsWith('/latest/meta-data/')) {
    const value = AWS_META[path.slice('/latest/meta-data/'.length)];
    return value === undefined ? reply(res, 404, 'Not Found') : reply(res, 200, value);
  }
  if (req.method === 'GET' && path.startsWith('/computeMetadata/v1/')) {
    if (req.headers['metadata-flavor'] !== 'Google') return reply(res, 403, 'Missing Metadata-Flavor:Google header.');
    if (path.endsWith('/token')) {
      return reply(res, 200, JSON.stringify({ access_token: 'corral-lab-fake-gcp-token', expires_in: 3599, token_type: 'Bearer' }), 'application/json');
    }
    return reply(res, 200, 'corral-lab-fake-value');
  }
  if (req.method === 'GET' && (path === '/' || path === '/latest/')) return reply(res, 200, 'meta-data\nuser-data\n');
  reply(res, 404, 'Not Found');
}
