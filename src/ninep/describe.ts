/** One-line summaries of messages for debug logs (data is shown by length only). */
import type { Logger } from './fid.js';
import type { Message } from './messages.js';

/**
 * Whether `log` wants message traces. A `debug` logger says so in
 * `enabled`, which debug 4.4 leaves undefined (not false) when DEBUG is
 * unset: testing `enabled !== false` formatted every message for nothing,
 * about 7 us each. A plain function, with no such property, always wants them.
 */
export function tracing(log: Logger): boolean {
  return 'enabled' in log ? Boolean(log.enabled) : true;
}

export function describe(msg: Message): string {
  const parts: string[] = [`${msg.type} tag=${msg.tag}`];
  for (const [k, v] of Object.entries(msg)) {
    if (k === 'type' || k === 'tag') continue;
    parts.push(`${k}=${show(v)}`);
  }
  return parts.join(' ');
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (typeof v === 'bigint') return `${v}`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(show).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    if ('path' in v && 'version' in v && 'type' in v && Object.keys(v).length === 3) {
      const q = v as { type: number; version: number; path: bigint };
      return `(${q.path.toString(16)} ${q.version} ${q.type.toString(16)})`;
    }
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}:${show(x)}`)
      .join(' ')}}`;
  }
  return String(v);
}
