/**
 * The JSON interface, one table (README "Web monitor", routes), after the
 * Inferno Grid's getJobs, newJobs, controlJob, getMachines, controlMachine.
 * Every GET is reads of files; every action is one write of ctl lines.
 */
import type { IncomingMessage } from 'node:http';
import { FsError, asFsError } from '../ns/errors.js';
import type { Node } from '../ns/types.js';
import { walkNames } from '../ns/walk.js';
import { quote } from '../ns/quote.js';
import { parseJobs, parseSettings, parseTasks, parseWorkers } from './formats.js';
import type { Sample } from './history.js';
import { readJson } from './request-body.js';
import { readJobsFile, readMachine, takeSnapshot } from './snapshot.js';
import { readText, withClone, writeText } from './tree-io.js';

export interface ApiContext {
  root: Node;
  req: IncomingMessage;
  /** The path's captured parts. */
  params: string[];
  history(): readonly Sample[];
  /** An action changed something: the live page hears of it now, not at the next tick. */
  changed(): void;
}

export interface Reply {
  status?: number;
  body: unknown;
}

export interface Route {
  method: 'GET' | 'POST';
  path: RegExp;
  run(ctx: ApiContext): Promise<Reply>;
}

export const apiRoutes: readonly Route[] = [
  // The whole state at once: what the live stream sends.
  { method: 'GET', path: /^\/api\/snapshot$/, run: async (c) => ({ body: await takeSnapshot(c.root) }) },
  { method: 'GET', path: /^\/api\/history$/, run: async (c) => ({ body: { samples: c.history() } }) },
  // getMachines: the tree of nodes and the scheduler's workers.
  {
    method: 'GET',
    path: /^\/api\/machines$/,
    run: async (c) => ({
      body: {
        machine: await readMachine(c.root, [], 'node'),
        workers: await readJobsFile(c.root, 'nodes', parseWorkers),
      },
    }),
  },
  // controlMachine: {"verb":"delete"} on a worker is `delnode NAME` on jobs/ctl.
  {
    method: 'POST',
    path: /^\/api\/machines\/([^/]+)$/,
    run: async (c) => {
      const name = decoded(c.params[0]!);
      const { verb } = await readJson(c.req);
      if (verb !== 'delete') throw new FsError('EINVAL', `bad verb ${JSON.stringify(verb)}: a worker takes "delete"`);
      await writeText(c.root, ['jobs', 'ctl'], ctlLine('delnode', [name]));
      c.changed();
      return { body: { name, done: 'delnode' } };
    },
  },
  // getJobs
  {
    method: 'GET',
    path: /^\/api\/jobs$/,
    run: async (c) => ({ body: { jobs: await readJobsFile(c.root, 'status', parseJobs) } }),
  },
  // One job: its settings (N/ctl read back) and its tasks (N/status).
  {
    method: 'GET',
    path: /^\/api\/jobs\/(\d+)$/,
    run: async (c) => {
      const id = c.params[0]!;
      const [settings, tasks] = await Promise.all([
        readJobText(c.root, id, 'ctl').then(parseSettings),
        readJobText(c.root, id, 'status').then(parseTasks),
      ]);
      return { body: { id: Number(id), settings, tasks } };
    },
  },
  // newJobs: {"name","priority","stopped","tasks":[...]} makes a job, closed unless "open": true.
  {
    method: 'POST',
    path: /^\/api\/jobs$/,
    run: async (c) => {
      const body = await readJson(c.req);
      const tasks = taskLines(body.tasks);
      const settings = [
        ...(body.name !== undefined ? [ctlLine('name', [word(body.name, 'name')])] : []),
        ...(body.priority !== undefined ? [ctlLine('priority', [word(body.priority, 'priority')])] : []),
        ...(body.stopped === true ? ['stop'] : []),
      ];
      const id = await withClone(c.root, ['jobs', 'clone'], async (id, handle) => {
        try {
          if (settings.length > 0) await handle.write(Buffer.from(settings.join('\n') + '\n'), 0);
          await writeText(c.root, ['jobs', id, 'tasks'], tasks.join('\n') + '\n');
          if (body.open !== true) await handle.write(Buffer.from('close\n'), 0);
        } catch (err) {
          await handle.write(Buffer.from('wipe\n'), 0).catch(() => undefined); // all or nothing
          throw err;
        }
        return Number(id);
      });
      c.changed();
      return { status: 201, body: { id } };
    },
  },
  // controlJob: {"verb":"priority","args":["high"]} is `priority high` on jobs/N/ctl.
  {
    method: 'POST',
    path: /^\/api\/jobs\/(\d+)$/,
    run: async (c) => {
      const id = c.params[0]!;
      const { verb, args } = await readJson(c.req);
      const words = args === undefined ? [] : Array.isArray(args) ? args : [args];
      await jobExists(c.root, id);
      await writeText(
        c.root,
        ['jobs', id, 'ctl'],
        ctlLine(
          word(verb, 'verb'),
          words.map((w) => word(w, 'args')),
        ),
      );
      c.changed();
      return { body: { id: Number(id), done: verb } };
    },
  },
  {
    method: 'GET',
    path: /^\/api\/sessions$/,
    run: async (c) => ({ body: { sessions: (await takeSnapshot(c.root)).sessions } }),
  },
];

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new FsError('EINVAL', `bad URL escape in ${JSON.stringify(part)}`);
  }
}

/** One ctl line, each word Plan 9 quoted, so a name with blanks stays one word. */
export function ctlLine(verb: string, args: string[]): string {
  return [verb, ...args].map(quote).join(' ') + '\n';
}

/** A word of a ctl line: a string or number, with no line breaks or control characters to smuggle a second verb. */
export function word(value: unknown, what: string): string {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || text === '') throw new FsError('EINVAL', `${what}: wants a word`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new FsError('EINVAL', `${what}: control characters are not allowed`);
  return text;
}

/** Tasks as a list of command lines, or one text of lines; blank lines dropped, at least one left. */
export function taskLines(value: unknown): string[] {
  const lines = typeof value === 'string' ? value.split('\n') : Array.isArray(value) ? value : undefined;
  if (!lines) throw new FsError('EINVAL', 'tasks: wants a list of commands (or a text, one per line)');
  const tasks = lines
    .map((l) => (typeof l === 'string' ? l.replace(/\r$/, '') : l))
    .filter((l) => l !== '' && (typeof l !== 'string' || l.trim() !== ''))
    .map((l) => word(l, 'tasks'));
  if (tasks.length === 0) throw new FsError('EINVAL', 'tasks: no tasks given');
  return tasks;
}

async function readJobText(root: Node, id: string, name: string): Promise<string> {
  await jobExists(root, id);
  return readText(root, ['jobs', id, name]);
}

async function jobExists(root: Node, id: string): Promise<void> {
  const jobs = await walkNames(root, ['jobs']).catch(noScheduler);
  if (!(await jobs.walk?.(id))) throw new FsError('ENOENT', `no job ${id}`);
}

function noScheduler(err: unknown): never {
  const e = asFsError(err);
  if (e.code === 'ENOENT') throw new FsError('ENOENT', 'this node has no jobs/ (no scheduler)');
  throw e;
}
