/**
 * A deliberately separate, minimal 9P2000 client for tests: hand-packed
 * frames over a raw socket, sharing no code with src/ninep, so the server
 * is checked against the protocol rather than against itself.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

const NOFID = 0xffffffff;
const T = {
  version: 100,
  auth: 102,
  attach: 104,
  flush: 108,
  walk: 110,
  open: 112,
  read: 116,
  write: 118,
  clunk: 120,
} as const;
const RERROR = 107;

export interface Reply {
  type: number;
  tag: number;
  body: Buffer;
}

export class Raw9p {
  private buf = Buffer.alloc(0);
  private waiters = new Map<number, (r: Reply) => void>();
  private nextTag = 1;
  readonly replies: Reply[] = [];

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 4 && this.buf.length >= this.buf.readUInt32LE(0)) {
        const size = this.buf.readUInt32LE(0);
        const frame = this.buf.subarray(0, size);
        this.buf = this.buf.subarray(size);
        const r = { type: frame[4]!, tag: frame.readUInt16LE(5), body: Buffer.from(frame.subarray(7)) };
        this.replies.push(r);
        this.waiters.get(r.tag)?.(r);
        this.waiters.delete(r.tag);
      }
    });
  }

  static async dial(addr: string): Promise<Raw9p> {
    const [, host, port] = addr.split('!');
    const sock = connect(Number(port), host);
    await new Promise((r, j) => sock.once('connect', r).once('error', j));
    return new Raw9p(sock);
  }

  close(): void {
    this.sock.destroy();
  }

  /** Send a T-message; resolves with its reply (throws on Rerror unless allowed). */
  send(
    type: number,
    fields: Buffer[],
    tag = type === T.version ? 0xffff : this.nextTag++,
  ): { tag: number; reply: Promise<Reply> } {
    const body = Buffer.concat(fields);
    const head = Buffer.alloc(7);
    head.writeUInt32LE(7 + body.length, 0);
    head[4] = type;
    head.writeUInt16LE(tag, 5);
    const reply = new Promise<Reply>((r) => this.waiters.set(tag, r));
    this.sock.write(Buffer.concat([head, body]));
    return { tag, reply };
  }

  async rpc(type: number, fields: Buffer[]): Promise<Buffer> {
    const r = await this.send(type, fields).reply;
    if (r.type === RERROR) throw new Error(str(r.body, 0).value);
    if (r.type !== type + 1) throw new Error(`unexpected reply type ${r.type} to ${type}`);
    return r.body;
  }

  async version(): Promise<string> {
    const body = await this.rpc(T.version, [u32(8192), s('9P2000')]);
    return str(body, 4).value;
  }

  attach(fid: number, afid = NOFID, uname = 'test', aname = ''): Promise<Buffer> {
    return this.rpc(T.attach, [u32(fid), u32(afid), s(uname), s(aname)]);
  }

  /** Tauth; resolves with the aqid's type byte. */
  async auth(afid: number, uname = 'test', aname = ''): Promise<number> {
    return (await this.rpc(T.auth, [u32(afid), s(uname), s(aname)]))[0]!;
  }

  /**
   * taskfs-auth-1 on a fresh afid, written from the README's description
   * (not from src/ninep/auth.ts): resolves once the server has proven it
   * holds the key too.
   */
  async authenticate(afid: number, key: Buffer, uname = 'test', aname = ''): Promise<void> {
    await this.auth(afid, uname, aname);
    const challenge = (await this.read(afid, 0, 256)).toString();
    const m = /^taskfs-auth-1 ([0-9a-f]{64})$/.exec(challenge);
    if (!m) throw new Error(`unexpected challenge ${JSON.stringify(challenge)}`);
    const sn = m[1]!;
    const cn = randomBytes(32).toString('hex');
    const hmac = (...parts: string[]) => createHmac('sha256', key).update(parts.join('\0')).digest('hex');
    await this.write(afid, 0, `${cn} ${hmac('client', sn, cn, uname, aname)}`);
    const proof = (await this.read(afid, 0, 256)).toString();
    if (proof !== hmac('server', cn, sn)) throw new Error('server failed to authenticate');
  }

  async walk(fid: number, newfid: number, names: string[]): Promise<number> {
    const body = await this.rpc(T.walk, [u32(fid), u32(newfid), u16(names.length), ...names.map(s)]);
    return body.readUInt16LE(0);
  }

  open(fid: number, mode: number): Promise<Buffer> {
    return this.rpc(T.open, [u32(fid), u8(mode)]);
  }

  readReq(fid: number, offset: number, count: number) {
    return this.send(T.read, [u32(fid), u64(offset), u32(count)]);
  }

  async read(fid: number, offset: number, count: number): Promise<Buffer> {
    const r = await this.readReq(fid, offset, count).reply;
    if (r.type === RERROR) throw new Error(str(r.body, 0).value);
    return r.body.subarray(4, 4 + r.body.readUInt32LE(0));
  }

  async write(fid: number, offset: number, data: string): Promise<number> {
    const bytes = Buffer.from(data);
    const body = await this.rpc(T.write, [u32(fid), u64(offset), u32(bytes.length), bytes]);
    return body.readUInt32LE(0);
  }

  flush(oldtag: number) {
    return this.send(T.flush, [u16(oldtag)]);
  }

  clunk(fid: number): Promise<Buffer> {
    return this.rpc(T.clunk, [u32(fid)]);
  }

  /** Read a whole file from offset 0 until a zero-length read. */
  async readAll(fid: number): Promise<string> {
    let out = Buffer.alloc(0);
    for (;;) {
      const b = await this.read(fid, out.length, 4096);
      if (b.length === 0) return out.toString();
      out = Buffer.concat([out, b]);
    }
  }
}

export const OREAD = 0;
export const OWRITE = 1;
export const ORDWR = 2;
export const RFLUSH = T.flush + 1;
export const RREAD = T.read + 1;

function u8(n: number): Buffer {
  return Buffer.from([n]);
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
function s(text: string): Buffer {
  const b = Buffer.from(text);
  return Buffer.concat([u16(b.length), b]);
}
function str(buf: Buffer, at: number): { value: string; next: number } {
  const n = buf.readUInt16LE(at);
  return { value: buf.subarray(at + 2, at + 2 + n).toString(), next: at + 2 + n };
}
