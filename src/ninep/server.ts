/**
 * The 9P2000 server: serve one connection, or listen on a dial string.
 * The tree is supplied as `root()`, called once per Tattach.
 */
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import type { AddressInfo, Server, Socket } from 'node:net';
import { connect as netConnect, createServer } from 'node:net';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import type { Node } from '../ns/types.js';
import type { Address } from './address.js';
import { formatAddress, parseAddress } from './address.js';
import type { Connection, ServeOptions } from './connection.js';
import { ServerConnection } from './connection.js';

export type { Connection, ConnectionStats, ServeOptions } from './connection.js';

const log = createDebug('taskfs:9p');

export function serveConnection(socket: Duplex, root: () => Node, opts: ServeOptions = {}): Connection {
  return new ServerConnection(socket, root, opts);
}

export interface ListenOptions extends ServeOptions {
  /** Called for every accepted connection (limits and accounting hook in here). */
  onConnection?: (conn: Connection, socket: Socket) => void;
  /**
   * Connections whose first bytes are `prefix` are not 9P: they go to
   * `take` (with those bytes still to read). A prefix of ASCII letters can
   * never start 9P, whose first four bytes are a Tversion's little-endian
   * size: "join" would be a 1.8 GB message.
   */
  divert?: { prefix: string; take(socket: Socket): void };
}

export interface Listener {
  /** The dial string clients use, with the real port for `tcp!host!0`. */
  readonly address: string;
  /** Live connections. */
  connections(): Connection[];
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

export async function listen(addr: string, root: () => Node, opts: ListenOptions = {}): Promise<Listener> {
  const where = parseAddress(addr);
  const live = new Set<Connection>();
  const serve = (socket: Socket) => {
    const conn = serveConnection(socket, root, {
      ...opts,
      onClose: (err) => {
        live.delete(conn);
        opts.onClose?.(err);
      },
    });
    live.add(conn);
    log('connection from %s', socket.remoteAddress ?? 'unix socket');
    opts.onConnection?.(conn, socket);
  };
  // Diverted connections are the listener's too: closing it drops them.
  const diverted = new Set<Socket>();
  const server = createServer((socket) => {
    socket.setNoDelay?.(true);
    const divert = opts.divert;
    if (!divert) return serve(socket);
    void sniff(socket, Buffer.from(divert.prefix)).then((yes) => {
      if (yes) {
        diverted.add(socket);
        socket.once('close', () => diverted.delete(socket));
        return divert.take(socket);
      }
      serve(socket);
      socket.resume(); // sniff paused it
    });
  });
  await bind(server, where);
  server.on('error', (err) => log('listener error: %s', err.message));
  const address = boundAddress(server, where);
  log('listening on %s', address);
  let closing: Promise<void> | undefined;
  return {
    address,
    connections: () => [...live],
    close: () =>
      (closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        const conns = [...live];
        for (const c of conns) c.close();
        for (const socket of diverted) socket.destroy();
        await Promise.all([stopped, ...conns.map((c) => c.closed)]);
      })()),
  };
}

/** Whether the stream starts with `prefix`; what was read is put back either way. */
function sniff(socket: Socket, prefix: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    let head = Buffer.alloc(0);
    const done = (yes: boolean) => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (head.length > 0) socket.unshift(head);
      resolve(yes);
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, prefix.length);
      if (!head.subarray(0, n).equals(prefix.subarray(0, n))) done(false);
      else if (head.length >= prefix.length) done(true);
    };
    const onClose = () => done(false);
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

async function bind(server: Server, where: Address): Promise<void> {
  try {
    await listenOnce(server, where);
  } catch (err) {
    // A unix socket left behind by a dead server: take it over.
    if (where.kind !== 'unix' || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    if (await isAlive(where.path)) throw err;
    log('removing stale socket %s', where.path);
    await rm(where.path, { force: true });
    await listenOnce(server, where);
  }
}

async function listenOnce(server: Server, where: Address): Promise<void> {
  if (where.kind === 'unix') server.listen(where.path);
  else server.listen(where.port, where.host);
  // once() rejects if 'error' comes first (EADDRINUSE, EACCES...).
  await once(server, 'listening');
}

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function boundAddress(server: Server, where: Address): string {
  if (where.kind === 'unix') return formatAddress(where);
  const info = server.address() as AddressInfo;
  return formatAddress({ kind: 'tcp', host: where.host, port: info.port });
}
