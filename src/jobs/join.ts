/**
 * Workers that join (README "Jobs: taskfs join"), both ends. The worker
 * dials the node and says, before any 9P,
 *
 *   join NAME 'KEY=VALUE ...'\n
 *
 * The node answers `ok\n` (or `no 'REASON'\n` and hangs up), then the
 * roles turn: the worker SERVES its own node on the connection it made and
 * the node it dialed is the 9P client, adopting it as a child node (in
 * nodes/, ns, jobs/nodes; used by `res` and by jobs). With --key both ends
 * prove the key with taskfs-auth-1 before the attach, as for any mount.
 * The worker dials again with backoff when the connection drops: a new
 * worker of the same name, while the node shows the old one Lost.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import createDebug from 'debug';
import { FsError } from '../ns/errors.js';
import { parseAddress } from '../ninep/address.js';
import { serveConnection } from '../ninep/server.js';
import { ChildNode } from '../nodes/child-node.js';
import type { TaskNode } from '../taskfs/node.js';
import { quote, tokenize } from '../ns/quote.js';
import { joinedAttrs } from './child-worker.js';
import { attrText, parseAttr } from './worker.js';

const log = createDebug('taskfs:join');

export const JOIN_PREFIX = 'join ';
const MAX_LINE_BYTES = 4096;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/** The listening node's side: a `divert` for its 9P listener. */
export function joinDoor(node: TaskNode, key: Buffer | undefined): { prefix: string; take(socket: Socket): void } {
  return {
    prefix: JOIN_PREFIX,
    take: (socket) =>
      void adopt(node, socket, key).catch((err: Error) => {
        log('join from %s refused: %s', socket.remoteAddress ?? 'unix socket', err.message);
        socket.destroy();
      }),
  };
}

async function adopt(node: TaskNode, socket: Socket, key: Buffer | undefined): Promise<void> {
  const [, name = '', attrs = ''] = tokenize(await readLine(socket));
  const refuse = (why: string) => {
    socket.end(`no ${quote(why)}\n`);
    throw new FsError('EINVAL', why);
  };
  if (!/^[\w.-]+$/.test(name)) refuse(`bad worker name ${JSON.stringify(name)}`);
  const existing = node.childNodes.get(name);
  if (existing && !existing.lost) refuse(`a node named ${name} is already here`);
  const map = new Map<string, string>();
  for (const word of attrs.split(' ').filter(Boolean)) {
    const kv = parseAttr(word);
    if (!kv) refuse(`bad attribute ${JSON.stringify(word)}: want KEY=VALUE`);
    else map.set(kv[0], kv[1]);
  }
  socket.write('ok\n');
  const where = socket.remoteAddress ? `${socket.remoteAddress}!${socket.remotePort}` : 'unix';
  const connecting = ChildNode.overStream(name, `join!${where}`, socket, { key });
  socket.resume(); // the client's listeners are on: nothing is lost
  const child = await connecting;
  joinedAttrs.set(child, map);
  node.adoptChild(child);
  log('worker %s joined from %s', name, where);
}

/** One line, its newline dropped; what follows stays in the stream, which is left paused. */
function readLine(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const finish = (err?: Error) => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (err) return reject(err);
      const nl = head.indexOf(0x0a);
      if (nl + 1 < head.length) socket.unshift(head.subarray(nl + 1));
      resolve(head.subarray(0, nl).toString());
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.includes(0x0a)) finish();
      else if (head.length > MAX_LINE_BYTES) finish(new FsError('EINVAL', 'join: line too long'));
    };
    const onClose = () => finish(new FsError('ECONNRESET', 'join: connection closed'));
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.resume();
  });
}

export interface JoinOptions {
  name: string;
  attrs: Map<string, string>;
  key?: Buffer;
  /** Progress for the operator (joined, lost, refused). */
  say(text: string): void;
}

/** The worker's side: join `addr` and serve `node` there, again and again, until `signal` aborts. */
export async function joinLoop(node: TaskNode, addr: string, opts: JoinOptions, signal: AbortSignal): Promise<void> {
  let backoff = BACKOFF_FIRST_MS;
  while (!signal.aborted) {
    try {
      const socket = await dial(addr);
      const stop = () => socket.destroy();
      signal.addEventListener('abort', stop, { once: true });
      try {
        socket.write(`${JOIN_PREFIX}${quote(opts.name)} ${quote(attrText(opts.attrs))}\n`);
        const reply = tokenize(await readLine(socket));
        if (reply[0] !== 'ok') throw new Error(`${addr} refused: ${reply[1] ?? reply.join(' ')}`);
        opts.say(`joined ${addr} as ${opts.name}`);
        backoff = BACKOFF_FIRST_MS;
        const conn = serveConnection(socket, () => node.root, { key: opts.key });
        socket.resume();
        await conn.closed;
        if (!signal.aborted) opts.say(`connection to ${addr} closed; joining again`);
      } finally {
        signal.removeEventListener('abort', stop);
        socket.destroy();
      }
    } catch (err) {
      if (!signal.aborted) opts.say(`join ${addr}: ${(err as Error).message}`);
    }
    await sleep(backoff, undefined, { signal }).catch(() => undefined);
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  }
}

async function dial(addr: string): Promise<Socket> {
  const a = parseAddress(addr);
  const socket = a.kind === 'unix' ? netConnect(a.path) : netConnect({ host: a.host, port: a.port, noDelay: true });
  try {
    await once(socket, 'connect');
    return socket;
  } catch (err) {
    socket.destroy();
    throw new Error(`cannot connect: ${(err as Error).message}`);
  }
}
