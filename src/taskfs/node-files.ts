/**
 * The node's root directory (README "The node"): clone, ctl, arch, status,
 * env, ns, fs/, nodes/, and a directory per session.
 */
import { textHandle } from '../ns/handles.js';
import { SyntheticDir, SyntheticFile, renamed } from '../ns/synthetic.js';
import type { Node, OpenFile } from '../ns/types.js';
import { runCtl, whole, type VerbTable } from './ctl.js';
import { validateSetting } from './settings.js';
import type { TaskNode } from './node.js';
import type { Session } from './session.js';
import createDebug from 'debug';

/** Qid paths of the node's own files: session qids start at serial 1. */
const enum Q {
  Root = 1,
  Clone,
  Ctl,
  Arch,
  Status,
  Env,
  Ns,
  Fs,
  Nodes,
  Up,
}

export function nodeRoot(node: TaskNode): Node {
  const file = (
    name: string,
    q: Q,
    perm: number,
    open: (truncate: boolean) => Promise<OpenFile> | OpenFile,
    truncate?: () => void,
  ) =>
    [name, new SyntheticFile({ name, qidPath: BigInt(q), perm, open: (m) => open(!!m.truncate), truncate })] as const;

  const top = [
    file('clone', Q.Clone, 0o666, () => node.openClone().handle),
    file('ctl', Q.Ctl, 0o660, () => textHandle({ text: node.settings(), write: (d) => nodeCtl(node, d.toString()) })),
    file('arch', Q.Arch, 0o444, () => textHandle({ text: `${node.os} ${node.machine}\n` })),
    file('status', Q.Status, 0o444, async () => textHandle({ text: await node.capacityText() })),
    file(
      'env',
      Q.Env,
      0o660,
      (truncate) => {
        if (truncate) node.envText = '';
        return textHandle({
          text: node.envText,
          write: (d) => {
            const next = node.envText + d.toString();
            validateSetting('env', next);
            node.envText = next;
          },
        });
      },
      () => void (node.envText = ''),
    ),
    file('ns', Q.Ns, 0o660, () => textHandle({ text: node.nsText(), write: (d) => nodeCtl(node, d.toString()) })),
    ['fs', renamed(node.staging.tree, 'fs')] as const,
    [
      'nodes',
      new SyntheticDir({
        name: 'nodes',
        qidPath: BigInt(Q.Nodes),
        entries: () => [...node.childNodes.values()].map((c) => [c.name, renamed(c.root, c.name)] as const),
      }),
    ] as const,
    ['up', upDir(node)] as const,
  ];

  const sessionNode = (s: Session): Node => node.sessionNode(s);
  const topByName = new Map<string, Node>(top);
  return new SyntheticDir({
    name: '/',
    qidPath: BigInt(Q.Root),
    entries: () => [
      ...top,
      ...node.extraDirs,
      ...[...node.sessions.values()].sort((a, b) => a.id - b.id).map((s) => [String(s.id), sessionNode(s)] as const),
    ],
    lookup: (name) => {
      const found = topByName.get(name) ?? node.extraDirs.get(name);
      if (found || !/^(0|[1-9]\d*)$/.test(name)) return found;
      const s = node.sessions.get(Number(name));
      return s && sessionNode(s);
    },
  });
}

/**
 * `up/N/`: for each session held by a parent on another machine, what that
 * parent serves it: `root` (the root session) and `parent` (README
 * "Co-allocation: reaching the root").
 */
function upDir(node: TaskNode): Node {
  const held = () => [...node.sessions.values()].filter((s) => s.uplink?.connected);
  const entry = (s: Session): Node =>
    new SyntheticDir({
      name: String(s.id),
      qidPath: (1n << 57n) | BigInt(s.serial),
      entries: () => [
        ['root', node.upDir(s, 'root')],
        ['parent', node.upDir(s, 'parent')],
      ],
    });
  return new SyntheticDir({
    name: 'up',
    qidPath: BigInt(Q.Up),
    entries: () => held().map((s) => [String(s.id), entry(s)] as const),
    lookup: (name) => {
      const s = /^(0|[1-9]\d*)$/.test(name) ? node.sessions.get(Number(name)) : undefined;
      return s?.uplink?.connected ? entry(s) : undefined;
    },
  });
}

/** Node ctl verbs (and ns lines): debug N; limit NAME N; mount ADDR NAME and unmount NAME of child nodes. */
const nodeVerbs: VerbTable<TaskNode> = {
  debug: {
    words: [1, 1],
    usage: 'debug N',
    run: (node, [n]) => {
      node.debug = whole(n!, 'debug');
      if (node.debug > 0) createDebug.enable('taskfs:*');
      else createDebug.disable();
    },
  },
  limit: {
    words: [2, 2],
    usage: 'limit sessions|leaves|spool N',
    run: (node, [name, n]) => node.setLimit(name!, whole(n!, 'limit')),
  },
  mount: { words: [2, 2], usage: 'mount ADDR NAME', run: (node, [addr, name]) => node.mountChild(addr!, name!) },
  unmount: { words: [1, 1], usage: 'unmount NAME', run: (node, [name]) => node.unmountChild(name!) },
};

function nodeCtl(node: TaskNode, text: string): Promise<void> {
  return runCtl(nodeVerbs, node, text, 'node ctl verb');
}
