/**
 * The web monitor from a test: its URL from the node's start line, and
 * plain HTTP requests (node:http, so Host, Origin and huge bodies are
 * ours to set) that never throw on a status.
 */
import { request } from 'node:http';
import type { Daemon } from './daemon.js';

/** Where the node said its monitor is: "web monitor at http://127.0.0.1:PORT/". */
export function webUrl(d: Daemon): string {
  const m = /web monitor at (http:\/\/\S+\/)/.exec(d.stderr());
  if (!m) throw new Error(`no web monitor in: ${d.stderr()}`);
  return m[1]!.replace('0.0.0.0', '127.0.0.1');
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: a test reads whatever the route answered
  json(): any;
}

export function http(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; json?: unknown } = {},
): Promise<HttpReply> {
  const body = opts.json !== undefined ? JSON.stringify(opts.json) : opts.body;
  const headers: Record<string, string> = { ...(opts.json !== undefined && { 'Content-Type': 'application/json' }) };
  Object.assign(headers, opts.headers);
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? (body === undefined ? 'GET' : 'POST'), headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}
