/**
 * The web monitor (README "Web monitor"): a third front end beside FUSE and
 * 9P, over plain node:http. It serves one page, the JSON interface of
 * api-routes.ts, and the live feed (live-feed.ts); it decides who may ask
 * (key-gate.ts, refuse) and maps errors onto statuses once.
 */
import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import createDebug from 'debug';
import { asFsError } from '../ns/errors.js';
import type { Node } from '../ns/types.js';
import { apiRoutes } from './api-routes.js';
import { httpUrl, isLoopback, parseHttpAddress, refuseOpenHttp } from './http-address.js';
import { httpStatus } from './http-status.js';
import { KeyGate } from './key-gate.js';
import { readForm } from './request-body.js';
import { LiveFeed } from './live-feed.js';
import { type StaticFile, loadStaticFiles } from './static-files.js';

const log = createDebug('taskfs:web');

export interface WebOptions {
  /** `--http ADDR` (http-address.ts). */
  address: string;
  /** `--key`: required beyond loopback; then the page asks for it. */
  key?: Buffer;
  /** The tree shown: a node's root, local or a remote one's over 9P. */
  root: () => Node;
}

export class WebMonitor {
  private readonly gate: KeyGate;
  private readonly feed: LiveFeed;
  private closing?: Promise<void>;

  private constructor(
    private readonly opts: WebOptions,
    private readonly files: Map<string, StaticFile>,
    private readonly server: Server,
    /** Where the page is, e.g. http://127.0.0.1:8080/ */
    readonly url: string,
    private readonly loopbackOnly: boolean,
  ) {
    this.gate = new KeyGate(opts.key);
    this.feed = new LiveFeed(opts.root, { key: this.gate.required });
  }

  /** Listening, with its page loaded; refuses beyond loopback without a key. */
  static async start(opts: WebOptions): Promise<WebMonitor> {
    const addr = parseHttpAddress(opts.address);
    refuseOpenHttp(addr, opts.key !== undefined);
    const files = await loadStaticFiles();
    let monitor: WebMonitor | undefined;
    const server = createServer((req, res) => {
      if (monitor) void monitor.handle(req, res);
      else res.writeHead(503).end('starting\n');
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address() as AddressInfo;
    monitor = new WebMonitor(opts, files, server, httpUrl(bound.address, bound.port), isLoopback(bound.address));
    return monitor;
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      this.feed.stop();
      const closed = new Promise<void>((r) => this.server.close(() => r()));
      this.server.closeAllConnections();
      await closed;
    })());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      log('%s %s', req.method, path);
      const refusal = this.refuse(req);
      if (refusal) return text(res, 403, refusal);
      const file = this.files.get(path);
      if (file && req.method === 'GET') return send(res, 200, file);
      if (path === '/' && req.method === 'GET') return this.page(req, res);
      if (path === '/login' && req.method === 'POST') return await this.login(req, res);
      if (path === '/logout' && req.method === 'POST') {
        return void res.writeHead(303, { Location: '/', 'Set-Cookie': KeyGate.clearCookie() }).end();
      }
      if (!path.startsWith('/api/')) return text(res, 404, `no such page: ${path}`);
      if (!this.gate.admits(req)) return text(res, 401, 'key required: log in at / with the node key');
      if (path === '/api/events' && req.method === 'GET') return this.feed.stream(req, res, securityHeaders);
      const matching = apiRoutes.filter((r) => r.path.test(path));
      const route = matching.find((r) => r.method === req.method);
      if (!route) return text(res, matching.length > 0 ? 405 : 404, `no such route: ${req.method} ${path}`);
      const params = route.path.exec(path)!.slice(1);
      const reply = await route.run({
        root: this.opts.root(),
        req,
        params,
        history: () => this.feed.samples(),
        changed: () => this.feed.changed(),
      });
      json(res, reply.status ?? 200, reply.body);
    } catch (err) {
      const e = asFsError(err);
      // Past the headers (a stream, a reply half sent) there is no status left to give.
      if (res.headersSent) res.destroy();
      else text(res, httpStatus(e.code), e.message);
    }
  }

  /**
   * Requests a page elsewhere could make us do: a Host that is not ours on
   * a loopback-only monitor (DNS rebinding) and, for actions, an Origin
   * that is not this page's.
   */
  private refuse(req: IncomingMessage): string | undefined {
    const host = req.headers.host ?? '';
    if (this.loopbackOnly && !this.gate.required && !isLoopback(host.replace(/:\d+$/, '')))
      return `host ${host} refused: this monitor answers loopback names only`;
    const origin = req.headers.origin;
    if (req.method !== 'GET' && origin !== undefined && origin !== `http://${host}`)
      return `cross-origin request from ${origin} refused`;
    return undefined;
  }

  private page(req: IncomingMessage, res: ServerResponse, status = 200, note = ''): void {
    const name = this.gate.admits(req) ? '/static/index.html' : '/static/login.html';
    const file = this.files.get(name)!;
    send(res, status, { ...file, body: Buffer.from(file.body.toString().replace('<!--note-->', note)) });
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    if (!this.gate.required) return void res.writeHead(303, { Location: '/' }).end();
    if (!this.gate.matches(form.get('key') ?? '')) {
      return this.page(req, res, 401, '<p class="note">That is not the key.</p>');
    }
    res.writeHead(303, { Location: '/', 'Set-Cookie': this.gate.cookie() }).end();
  }
}

const securityHeaders = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // Not no-referrer: Chromium then sends `Origin: null` on the login form, which refuse() turns away.
  'Referrer-Policy': 'same-origin',
};

function send(res: ServerResponse, status: number, file: StaticFile): void {
  const csp = file.type.startsWith('text/html') ? { 'Content-Security-Policy': pagePolicy(file.body) } : {};
  res.writeHead(status, { 'Content-Type': file.type, 'Cache-Control': 'no-cache', ...securityHeaders, ...csp });
  res.end(file.body);
}

/** Scripts from this server only, plus the page's inline import map, by its hash. */
function pagePolicy(html: Buffer): string {
  const inline = [...html.toString().matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)].map(
    (m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`,
  );
  return `default-src 'self'; script-src 'self' ${inline.join(' ')}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...securityHeaders });
  res.end(JSON.stringify(body));
}

function text(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-store',
    ...securityHeaders,
  });
  res.end(message + '\n');
}
