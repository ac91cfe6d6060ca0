/** A raw 9P peer for transcript tests: sends messages, collects whole replies. */
import type { Duplex } from 'node:stream';
import { pack, unpack } from '../../src/ninep/codec.js';
import { Framer } from '../../src/ninep/framer.js';
import type { Message } from '../../src/ninep/messages.js';

export class Peer {
  readonly received: Message[] = [];
  private waiters: (() => void)[] = [];
  private readonly framer = new Framer(1 << 24);
  closed = false;

  constructor(readonly socket: Duplex) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.framer.push(chunk)) this.received.push(unpack(f));
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  send(msg: Message): void {
    this.socket.write(pack(msg));
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next reply, in arrival order. */
  async next(timeoutMs = 2000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length === 0) {
      if (this.closed) throw new Error('connection closed while waiting for a reply');
      if (Date.now() > deadline) throw new Error('timed out waiting for a reply');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.received.shift()!;
  }

  /** Waits `ms` and returns whatever arrived meanwhile. */
  async drain(ms: number): Promise<Message[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.received.splice(0);
  }

  private wake(): void {
    const w = this.waiters.splice(0);
    for (const f of w) f();
  }
}
