/** Network helpers for the client tests: a proxy that can go silent, and a server that never answers. */
import type { AddressInfo, Server, Socket } from 'node:net';
import { connect, createServer } from 'node:net';

export interface Proxy {
  address: string;
  /** From now on nothing from the server reaches the client, as if the server were SIGSTOPped. */
  freeze(): void;
  close(): Promise<void>;
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function track(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

async function listenLocal(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `tcp!127.0.0.1!${(server.address() as AddressInfo).port}`;
}

export async function freezableProxy(targetPort: number): Promise<Proxy> {
  let frozen = false;
  const server = createServer((client) => {
    const up = connect(targetPort, '127.0.0.1');
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    client.on('data', (d) => up.write(d));
    up.on('data', (d) => {
      if (!frozen) client.write(d);
    });
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
    client.on('error', () => {});
    up.on('error', () => {});
  });
  const sockets = track(server);
  const address = await listenLocal(server);
  return {
    address,
    freeze: () => {
      frozen = true;
    },
    close: () => closeServer(server, sockets),
  };
}

/** Accepts connections and reads everything, but never writes a byte. */
export async function silentServer(): Promise<{ address: string; close(): Promise<void> }> {
  const server = createServer((s) => {
    s.on('data', () => {});
    s.on('error', () => {});
  });
  const sockets = track(server);
  const address = await listenLocal(server);
  return { address, close: () => closeServer(server, sockets) };
}
