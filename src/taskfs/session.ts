/**
 * A session: either a leaf that runs one process at a time (after `res 0`,
 * or an `exec` with no reservation), or an inner session whose reservation
 * is a list of bound children it drives through their files.
 */
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { mkdir, rm, rmdir, stat } from 'node:fs/promises';
import createDebug from 'debug';
import { FsError, asFsError } from '../ns/errors.js';
import { park, wakeAll } from '../ns/park.js';
import type { OpenFile } from '../ns/types.js';
import { signalNumber } from '../exec/signals.js';
import { serveUplink, UplinkEnd } from '../nodes/uplink.js';
import { Barrier } from './barrier.js';
import { leafCount, readChildFile, type BoundSession, type StagingHost } from '../nodes/bound-session.js';
import type { EnvBlock } from '../exec/env-block.js';
import { leafEnv, type SubjobPlace } from './leaf-env.js';
import { Mailbox } from './mbox.js';
import { quote, tokenize } from '../ns/quote.js';
import { collectLeaf, patternNames, pullOut } from './collect.js';
import { stageToChild } from './stage-to-child.js';
import { stageToLeaf } from './stage-to-leaf.js';
import { Run } from './run.js';
import { validateSetting, type SettingName } from './settings.js';
import type { TaskNode } from './node.js';

const log = createDebug('taskfs:session');

/** Stdin held for a process not started yet. */
const PENDING_STDIN_MAX = 1024 * 1024;

export type SessionState = 'Unreserved' | 'Closed' | 'Execute' | 'Done' | 'Fail' | 'Lost';

export interface ResRequest {
  count: number;
  grow: boolean;
  os: string;
  machine: string;
  /** Shares placed by child node name (`res 2@a 2@b optional`); empty: split by capacity. */
  placed: PlacedShare[];
}

export interface PlacedShare {
  count: number;
  node: string;
  optional: boolean;
}

export class Session {
  private reservation: 'none' | 'self' | 'children' = 'none';
  children: BoundSession[] = [];
  run?: Run;
  private runs = 0;
  private runWaiters = new Set<() => void>();
  /** Set once released: an emptied session shows `Closed`. */
  private released = false;
  removed = false;

  /** Open handles on this session's files, status excluded (the OPENS column). */
  opens = 0;
  private ctlOpens = 0;
  private cloneOpens = 0;
  /** Where this session is bound, when a local parent holds it. */
  boundIn?: { parent: Session; index: number };
  /** Who holds this session as one of the node's slots without a parent session (a job's task). */
  slotHolder?: string;

  dir?: string;
  nice?: number;
  killOnClose = false;
  rank = 0;
  size = 1;
  /** A parent said where this session's leaves stand (`rank`). */
  private rankGiven = false;
  private subjobPlace?: SubjobPlace;
  /** The parent marked this session's share optional: its leaves may end before the barrier. */
  optionalShare = false;
  private executed = false;
  /** How the last process ended, for a barrier failure's reason. */
  private leafExit?: string;
  readonly barrier: Barrier = new Barrier({
    isRoot: () => !this.boundIn && !this.rankGiven,
    optional: () => this.optionalShare,
    leafEnded: () => this.leafEnded(),
    leafName: () => `rank ${this.rank} (cmd/${this.id})`,
    children: () => this.children,
    isOptional: (c) => c.optional === true,
  });
  private mailboxValue?: Mailbox;
  /** The child end of the way up to the root, made when a parent opens `import`. */
  uplink?: UplinkEnd;
  /** Stops serving the children's imports. */
  private uplinksServed?: AbortController;
  readonly text: Record<SettingName, string> = { args: '', env: '', ns: '' };
  lastError = '';
  /** Made on disk: this leaf's own working directory, and out/ by the first collect. */
  private madeLeafDir = false;
  outMade = false;

  /** Made on the first splice: an abort costs an exception object, and most sessions never splice. */
  private splices?: AbortController;
  private pendingStdin: Buffer[] = [];
  private pendingEof = false;
  private stdinChain: Promise<void> = Promise.resolve();
  /** Children's stdin files open through this session's stdin (written behind: eof drains them). */
  readonly stdinWriters = new Set<OpenFile[]>();

  constructor(
    readonly node: TaskNode,
    readonly id: number,
    readonly serial: number,
  ) {}

  get state(): SessionState {
    if (this.reservation === 'none') return this.released ? 'Closed' : 'Unreserved';
    return this.run?.state ?? 'Closed';
  }

  get isInner(): boolean {
    return this.reservation === 'children';
  }

  /** True when closing the owner must kill or release something. */
  private get holdsSomething(): boolean {
    return this.reservation !== 'none' || this.run !== undefined;
  }

  /** A Closed session nobody looks at may be handed out again by clone. */
  get reusable(): boolean {
    return this.released && this.reservation === 'none' && this.opens === 0 && !this.boundIn;
  }

  // ---- handles and lifetime -------------------------------------------

  opened(kind: 'file' | 'ctl' | 'clone'): void {
    this.opens++;
    if (kind !== 'file') this.ctlOpens++;
    if (kind === 'clone') this.cloneOpens++;
  }

  async closed(kind: 'file' | 'ctl' | 'clone'): Promise<void> {
    this.opens--;
    if (kind !== 'file') this.ctlOpens--;
    if (kind === 'clone') this.cloneOpens--;
    if (kind === 'clone' && this.cloneOpens === 0 && this.holdsSomething && !this.removed) {
      log('session %d: clone handle closed, releasing', this.id);
      await this.release();
    } else if (kind !== 'file' && this.ctlOpens === 0 && this.killOnClose) {
      await this.kill();
    }
  }

  /** Kill, release every child, drop the run: the session is empty and Closed. */
  async release(): Promise<void> {
    const children = this.children;
    this.children = [];
    const run = this.run;
    this.run = undefined;
    this.reservation = 'none';
    this.released = true;
    this.pendingStdin = [];
    this.pendingEof = false;
    this.splices?.abort();
    this.splices = undefined;
    this.uplinksServed?.abort();
    this.uplinksServed = undefined;
    this.barrier.stop();
    this.mailboxValue?.clear();
    this.wakeRunWaiters();
    await Promise.allSettled([run?.dispose(), ...children.map((c) => c.release())]);
  }

  /** `rmdir`: a leaf its parent holds is dropped from the parent's request (subjob delete). */
  async rmdir(): Promise<void> {
    if (this.boundIn) return this.boundIn.parent.drop(this.boundIn.index);
    await this.wipe();
  }

  /** `wipe` by a user: refused for a leaf its parent holds. */
  async wipe(): Promise<void> {
    if (this.boundIn) {
      throw new FsError(
        'EBUSY',
        `session ${this.id} is leaf ${this.boundIn.index} of session ${this.boundIn.parent.id}: wipe that instead`,
      );
    }
    await this.remove();
  }

  /** Release and leave the node's table. */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    this.uplink?.close();
    this.node.forget(this);
    await this.release();
    const made = [this.madeLeafDir && this.leafDir(), this.outMade && this.outDir()];
    await Promise.allSettled(made.map((dir) => dir && removeDir(dir)));
  }

  /** Aborted when the session is released: background splices stop. */
  spliceSignal(): AbortSignal {
    return (this.splices ??= new AbortController()).signal;
  }

  // ---- runs, for readers of output and wait ---------------------------

  /** The current run, or the next one; undefined once released (EOF). */
  async awaitRun(signal?: AbortSignal): Promise<Run | undefined> {
    while (!this.run) {
      if (this.released || this.removed) return undefined;
      await park(this.runWaiters, (wake) => wake, signal);
    }
    return this.run;
  }

  private wakeRunWaiters(): void {
    wakeAll(this.runWaiters);
  }

  // ---- verbs ------------------------------------------------------------

  async reserve(req: ResRequest): Promise<void> {
    if (req.grow) {
      this.checkEditable('res +N');
      if (this.reservation === 'self') throw new FsError('EBUSY', 'res +N: this session is itself a leaf');
    } else if (this.reservation !== 'none') {
      throw new FsError(
        'EBUSY',
        `already reserved (${this.isInner ? `${this.children.length} children` : 'res 0'}); wipe first`,
      );
    }
    if (req.count === 0) {
      if (req.grow) return;
      this.node.checkMatch(req.os, req.machine);
      this.reservation = 'self';
      this.released = false;
      return;
    }
    const granted = await this.node.reserveChildren(this, req, this.children.length);
    this.reservation = 'children';
    this.released = false;
    const first = this.children.length;
    this.children.push(...granted);
    try {
      await Promise.all(granted.map((c) => this.pushSettings(c)));
    } catch (err) {
      this.children.splice(first);
      await Promise.allSettled(granted.map((c) => c.release()));
      if (this.children.length === 0) this.reservation = 'none';
      throw err;
    }
    for (const c of granted) if (c.uplink) this.serveImport(c.uplink);
  }

  /** A child on another machine reaches `root` and `parent` through its import (nodes/uplink.ts). */
  private serveImport(file: OpenFile): void {
    this.uplinksServed ??= new AbortController();
    serveUplink(file, () => this.node.importTree(this), this.uplinksServed.signal);
  }

  /** Subjob add and delete: before the first exec, or while the barrier is not yet released. */
  private checkEditable(verb: string): void {
    if (this.executed && this.barrier.isReleased)
      throw new FsError('EBUSY', `${verb}: the barrier was released; the request can no longer change`);
  }

  /** `drop K`, or `rmdir K`: release child K and its leaves; the others close up. */
  async drop(index: number): Promise<void> {
    const child = this.children[index];
    if (!this.isInner || !child)
      throw new FsError(
        'ENOENT',
        `drop: session ${this.id} has no child ${index} (children 0..${this.children.length - 1})`,
      );
    this.checkEditable('drop');
    this.children.splice(index, 1);
    this.barrier.forget(child);
    for (const s of this.node.sessions.values()) {
      if (s.boundIn?.parent === this && s.boundIn.index > index) s.boundIn.index--;
    }
    await child.release();
    if (this.children.length === 0) this.reservation = 'none';
    log('session %d: child %d dropped', this.id, index);
  }

  async exec(argv: string[]): Promise<void> {
    if (this.reservation === 'none') {
      this.reservation = 'self'; // `res 0` implied
      this.released = false;
    }
    if (this.isInner) {
      this.executed = true;
      this.barrier.reset();
      try {
        await this.execChildren(argv);
      } finally {
        this.barrier.watch(); // also when a child could not start: its failure reaches the leaves that did
      }
      return;
    }
    if (this.run?.running) throw new FsError('EBUSY', `already running: ${this.run.spec.argv[0]}`);
    const words = argv.length > 0 ? argv : tokenize(this.text.args);
    if (words.length === 0) throw new FsError('EINVAL', 'exec: no command, and args is empty');
    const old = this.run;
    this.executed = true;
    this.barrier.reset();
    const cwd = this.workingDir();
    const run = new Run({
      argv: words,
      cwd,
      makeCwd: !this.dir,
      prepare: () => this.prepareDir(cwd),
      ...this.processEnv(),
      nice: this.nice,
      spawner: this.node.spawner,
      spoolDir: this.node.spoolDir,
      tag: `${this.serial}-${++this.runs}`,
    });
    this.run = run;
    this.wakeRunWaiters();
    void old?.dispose();
    try {
      await run.start();
    } finally {
      this.barrier.changed(); // a leaf that could not start fails the barrier
    }
    this.leafExit = undefined;
    void run.process!.exited.then((info) => {
      this.leafExit = info.status === '' ? 'exit 0' : info.status;
      this.barrier.changed();
    });
    this.wakeRunWaiters(); // writers waiting for room in the pending stdin
    const pending = this.pendingStdin;
    this.pendingStdin = [];
    for (const data of pending) this.queueStdin(() => run.writeStdin(data));
    if (this.pendingEof) this.queueStdin(async () => run.closeStdin());
    this.pendingEof = false;
  }

  /**
   * Each child learns where its leaves stand before it runs: `rank BASE
   * SIZE SUBJOB SUBRANK SUBSIZE [optional]`. A root's children are its
   * subjobs; a session below passes its own subjob on.
   */
  private async execChildren(argv: string[]): Promise<void> {
    const line = argv.length > 0 ? `exec ${argv.map(quote).join(' ')}` : 'exec';
    let base = this.rankGiven ? this.rank : 0;
    const size = this.rankGiven ? this.size : this.leafCount();
    let subRank = this.subjobPlace?.rank ?? 0;
    const lines = this.children.map((c, i) => {
      const n = leafCount(c);
      const place = this.subjobPlace ?? { subjob: i, rank: 0, size: n };
      const optional = c.optional || this.optionalShare ? ' optional' : '';
      const text = `rank ${base} ${size} ${place.subjob} ${this.subjobPlace ? subRank : 0} ${place.size}${optional}\n${line}\n`;
      base += n;
      subRank += n;
      return text;
    });
    await this.stageToHosts();
    await this.fanOut((c, i) => c.ctl.write(Buffer.from(lines[i]!), 0));
  }

  /** A leaf's working directory, made if it is its own, gets the staged files. */
  /** Staged files into the leaf's directory (made here only when something is staged, else by the process server). */
  private async prepareDir(cwd: string): Promise<void> {
    if (!this.dir) {
      this.madeLeafDir = true;
      if ((await this.node.staging.files()).length === 0) return;
      await mkdir(cwd, { recursive: true, mode: 0o700 });
    }
    await stageToLeaf(this.node.staging, cwd, this.node.opts.name);
  }

  /** Staged files to each child node below, once per node however many children it holds. */
  private async stageToHosts(): Promise<void> {
    const hosts = new Set<StagingHost>();
    for (const c of this.children) if (c.host && !c.lost?.()) hosts.add(c.host);
    await Promise.all([...hosts].map((h) => stageToChild(this.node.staging, h)));
  }

  /**
   * `collect PATTERN`: a leaf copies its matches into out/0; an inner
   * session has every child collect, then takes each child's out/J as
   * its own out/(BASE+J), BASE the child's first rank in this session.
   */
  async collect(pattern: string): Promise<void> {
    patternNames(pattern); // refused before anything is sent
    const out = this.outDir();
    await mkdir(out, { recursive: true, mode: 0o700 });
    this.outMade = true;
    if (!this.isInner) return collectLeaf(this.run?.spec.cwd ?? this.workingDir(), pattern, join(out, '0'));
    await this.fanOut((c) => c.ctl.write(Buffer.from(`collect ${quote(pattern)}\n`), 0));
    let base = 0;
    const bases = this.children.map((c) => {
      const first = base;
      base += leafCount(c);
      return first;
    });
    await this.fanOut((c, i) => pullOut(c, i, out, bases[i]!));
  }

  /** Where `collect` puts what it brings back: fs/out/ in this session's view of fs/. */
  outDir(): string {
    return join(this.node.outDir, String(this.serial));
  }

  private leafDir(): string {
    return join(this.node.leavesDir, String(this.serial));
  }

  leafCount(): number {
    return this.isInner ? this.children.reduce((n, c) => n + leafCount(c), 0) : 1;
  }

  async kill(): Promise<void> {
    if (this.isInner) return this.forward('kill');
    await this.run?.kill();
  }

  async signal(name: string): Promise<void> {
    const sig = signalNumber(name);
    if (sig === undefined) throw new FsError('EINVAL', `signal: unknown signal ${name}`);
    if (this.isInner) return this.forward(`signal ${sig}`);
    this.run?.signal(sig);
  }

  async eof(): Promise<void> {
    if (this.isInner) {
      // Stdin to children is written behind: what was written before eof goes first.
      await Promise.allSettled([...this.stdinWriters].flatMap((files) => files.map((f) => f.drain?.())));
      return this.forward('eof');
    }
    if (this.run?.process) this.queueStdin(async () => this.run?.closeStdin());
    else this.pendingEof = true;
  }

  async setDir(path: string): Promise<void> {
    const dir = isAbsolute(path) ? path : resolvePath(this.node.defaultDir, path);
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new FsError('ENOENT', `dir: ${dir}: no such directory`);
    this.dir = dir;
    if (this.isInner) await this.forward(`dir ${quote(dir)}`);
  }

  async setNice(n: number): Promise<void> {
    this.nice = n;
    if (this.isInner) await this.forward(`nice ${n}`);
  }

  setRank(rank: number, size: number, subjob?: SubjobPlace, optional = false): void {
    this.rank = rank;
    this.size = size;
    this.rankGiven = true;
    this.subjobPlace = subjob;
    this.optionalShare = optional;
  }

  /** `barrier manual|auto` on the root ctl, before the first exec. */
  setBarrierMode(mode: string): void {
    if (mode !== 'manual' && mode !== 'auto') throw new FsError('EINVAL', 'usage: barrier manual|auto');
    this.barrier.setManual(mode === 'manual', this.executed);
  }

  /** A leaf whose process has ended (or never started): its wait status; else undefined. */
  private leafEnded(): string | undefined {
    const run = this.run;
    if (!run || run.running) return undefined;
    return this.leafExit ?? run.state;
  }

  /** This leaf's mailbox; an inner session has none. */
  mailbox(): Mailbox {
    if (this.isInner)
      throw new FsError(
        'EINVAL',
        `mbox: session ${this.id} is not a leaf (it has ${this.leafCount()} leaves): use ranks/R/mbox/TAG`,
      );
    return (this.mailboxValue ??= new Mailbox(() => `rank ${this.rank} (cmd/${this.id})`));
  }

  /** The topmost session on this node above this one (itself when unbound). */
  topSession(): Session {
    let s: Session = this;
    while (s.boundIn) s = s.boundIn.parent;
    return s;
  }

  /** The `import` file, as the parent that reserved this session opens it. */
  importHandle(): OpenFile {
    this.uplink ??= new UplinkEnd(`session ${this.id}'s parent`);
    return this.uplink.parentHandle();
  }

  // ---- stdin --------------------------------------------------------------

  /** Bytes for every process below; before the exec they wait for it. */
  async writeStdin(data: Buffer, children?: OpenFile[]): Promise<void> {
    if (this.isInner) {
      if (!children) throw new FsError('EIO', 'stdin: children not open');
      await Promise.all(children.map((f) => f.write(data, 0)));
      return;
    }
    // Before the exec, bytes wait here, up to a bound; past it the writer
    // waits for the exec, as a writer to a pipe waits for its reader.
    while (
      !this.run?.process &&
      this.pendingBytes() + data.length > PENDING_STDIN_MAX &&
      this.pendingStdin.length > 0
    ) {
      if (this.released || this.removed) throw new FsError('EIO', 'stdin: the session was released');
      await park(this.runWaiters, (wake) => wake);
    }
    const run = this.run;
    if (!run?.process) {
      if (run?.state === 'Fail') throw new FsError('EIO', 'stdin: the process could not start');
      if (this.released || this.removed) throw new FsError('EIO', 'stdin: the session was released');
      this.pendingStdin.push(data);
      return;
    }
    await this.queueStdin(() => run.writeStdin(data));
  }

  private pendingBytes(): number {
    return this.pendingStdin.reduce((n, b) => n + b.length, 0);
  }

  private queueStdin(step: () => Promise<void>): Promise<void> {
    const next = this.stdinChain.then(step);
    this.stdinChain = next.catch(() => undefined);
    return next;
  }

  // ---- settings: args, env, ns --------------------------------------------

  async setText(name: SettingName, text: string, append: boolean): Promise<void> {
    const value = append ? this.text[name] + text : text;
    validateSetting(name, value);
    if (name === 'ns') this.applyNs(value);
    this.text[name] = value;
    if (this.isInner) await this.fanOut((c) => pushText(c, name, value));
  }

  private applyNs(text: string): void {
    for (const line of text.split('\n')) {
      const words = tokenize(line);
      if (words[0] === 'cd')
        this.dir = isAbsolute(words[1]!) ? words[1]! : resolvePath(this.node.defaultDir, words[1]!);
    }
  }

  /** A newly bound child gets what was set here before it came. */
  private async pushSettings(child: BoundSession): Promise<void> {
    for (const name of ['env', 'args', 'ns'] as const) {
      if (this.text[name] !== '') await pushText(child, name, this.text[name]);
    }
    const lines = [this.dir ? `dir ${quote(this.dir)}` : '', this.nice !== undefined ? `nice ${this.nice}` : ''].filter(
      (l) => l !== '',
    );
    if (lines.length > 0) await child.ctl.write(Buffer.from(lines.join('\n') + '\n'), 0);
  }

  // ---- what the files show ------------------------------------------------

  /** `dir` if given, else the leaf's own directory: collect finds each leaf's files apart. */
  workingDir(): string {
    return this.dir ?? this.leafDir();
  }

  private processEnv(): { env: Record<string, string>; sharedEnv: EnvBlock } {
    const top = this.topSession();
    const { own, shared } = leafEnv({
      id: this.id,
      rank: this.rank,
      size: this.size,
      subjob: this.subjobPlace,
      envText: this.text.env,
      parentId: this.boundIn?.parent.id,
      heldFromAbove: this.uplink?.connected ?? false,
      top: { id: top.id, heldFromAbove: top.uplink?.connected ?? false },
      node: this.node,
    });
    return { env: own, sharedEnv: shared };
  }

  async status(): Promise<string> {
    if (this.isInner) return (await Promise.all(this.children.map((c) => readChildFile(c.dir, 'status')))).join('');
    const run = this.run;
    const dir = run?.spec.cwd ?? this.workingDir();
    return `cmd/${this.id} ${this.opens} ${this.state} ${quote(dir)} ${quote(run?.spec.argv[0] ?? '')}\n`;
  }

  topology(): string {
    return this.children
      .flatMap((c, i) => (c.topology === '' ? [`${i}`] : c.topology.split(' ').map((p) => `${i}/${p}`)))
      .join(' ');
  }

  // ---- fan-out --------------------------------------------------------------

  /** kill, signal, eof, dir, nice: a child whose node is lost has nothing left to tell. */
  private forward(line: string): Promise<void> {
    return this.fanOut((c) => (c.lost?.() ? Promise.resolve() : c.ctl.write(Buffer.from(line + '\n'), 0)));
  }

  /** The same operation on every child in parallel; fails if any child fails. */
  async fanOut(op: (child: BoundSession, index: number) => Promise<unknown>): Promise<void> {
    const results = await Promise.allSettled(this.children.map((c, i) => op(c, i)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw asFsError(failed.reason);
  }
}

async function pushText(child: BoundSession, name: SettingName, value: string): Promise<void> {
  const node = await child.dir.walk?.(name);
  if (!node?.open) throw new FsError('EIO', `child has no ${name} file`);
  const file = await node.open({ read: false, write: true, truncate: true });
  try {
    if (value !== '') await file.write(Buffer.from(value), 0);
  } finally {
    await file.close();
  }
}

/** A directory and what is in it: one rmdir for the usual empty one, a walk only when something is there. */
async function removeDir(dir: string): Promise<void> {
  await rmdir(dir).catch((err: NodeJS.ErrnoException) =>
    err.code === 'ENOENT' ? undefined : rm(dir, { recursive: true, force: true }),
  );
}
