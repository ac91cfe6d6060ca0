/** Two in-memory Duplex ends joined back to back, like a socketpair. */
import { Duplex } from 'node:stream';

export function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const make = (i: number): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        const peer = ends[1 - i]!;
        if (!peer.destroyed) peer.push(chunk);
        cb();
      },
      final(cb) {
        ends[1 - i]!.push(null);
        cb();
      },
      destroy(err, cb) {
        // Hanging up one end is seen by the other, as with a socket.
        const peer = ends[1 - i]!;
        if (!peer.destroyed) peer.destroy();
        cb(err);
      },
    });
  ends.push(make(0), make(1));
  return [ends[0]!, ends[1]!];
}
