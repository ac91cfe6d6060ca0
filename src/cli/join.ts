/**
 * `taskfs join ADDR`: a worker that dials a node and serves its own node
 * to it over that connection (README "Jobs: taskfs join"), in the
 * foreground until SIGINT or SIGTERM, joining again when the link drops.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAddress } from '../ninep/address.js';
import { joinLoop } from '../jobs/join.js';
import { parseAttr } from '../jobs/worker.js';
import { expandHome, nodeOptions, sshOptions } from './options.js';
import { startRuntime } from './runtime.js';
import { onStopSignals } from './signals.js';
import { usage } from './usage.js';

export async function joinCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseJoin>;
  try {
    parsed = parseJoin(argv);
  } catch (err) {
    process.stderr.write(`taskfs join: ${(err as Error).message}\n${usage.join}`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(usage.join);
    return 0;
  }
  const { addr, runtime, attrs } = parsed;
  process.title = `taskfs join ${addr}`;
  const rt = await startRuntime(runtime);
  const name = rt.node.opts.name;
  const say = (text: string) => process.stderr.write(`taskfs: ${text}\n`);
  say(`worker ${name} (${rt.node.opts.slots} slots, workdir ${rt.node.opts.workdir}) joining ${addr}`);
  const stop = new AbortController();
  const loop = joinLoop(rt.node, addr, { name, attrs, key: rt.key, say }, stop.signal);
  const why = await onStopSignals();
  say(`${why}: stopping worker ${name}`);
  stop.abort();
  await loop;
  await rt.stop();
  return 0;
}

function parseJoin(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      slots: { type: 'string' },
      attr: { type: 'string', multiple: true },
      key: { type: 'string' },
      workdir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help' as const;
  if (positionals.length !== 1) throw new Error('one ADDR to join, please');
  const addr = positionals[0]!;
  parseAddress(addr);
  const attrs = new Map<string, string>();
  for (const word of values.attr ?? []) {
    const kv = parseAttr(word);
    if (!kv) throw new Error(`--attr wants KEY=VALUE, not ${JSON.stringify(word)}`);
    attrs.set(kv[0], kv[1]);
  }
  const name = values.name ?? hostname();
  const node = nodeOptions({ name, slots: values.slots, workdir: values.workdir }, `join-${addr}`);
  if (values.workdir) node.workdir = resolve(expandHome(values.workdir));
  return {
    addr,
    attrs,
    runtime: {
      node,
      remotes: [],
      hosts: [],
      ssh: sshOptions({}, process.env),
      keyFile: values.key,
      defaultWorkdir: values.workdir === undefined,
    },
  };
}
