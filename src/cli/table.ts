/**
 * Plain text tables for `jobs`, `nodes` and `top`: a header and rows in
 * columns, numbers right-aligned, the last column left ragged (it holds
 * names and free text).
 */

export type Cell = string | number;

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences are what it matches
const ESCAPE = /\x1b\[[0-9;?]*[A-Za-z]/y;

/** Visible width: escape sequences (colour) take no room. */
export function width(text: string): number {
  return text.replace(new RegExp(ESCAPE.source, 'g'), '').length;
}

/** Cut a line to `columns` visible characters, escape sequences kept whole. */
export function clip(line: string, columns: number): string {
  if (width(line) <= columns) return line;
  let out = '';
  for (let i = 0, seen = 0; i < line.length && seen < columns; ) {
    ESCAPE.lastIndex = i;
    const esc = ESCAPE.exec(line);
    const piece = esc ? esc[0] : line[i]!;
    if (!esc) seen++;
    out += piece;
    i += piece.length;
  }
  return `${out}\x1b[0m`;
}

export function table(header: string[], rows: Cell[][]): string[] {
  const text = rows.map((r) => r.map(String));
  const numeric = header.map(
    (_, i) => rows.some((r) => typeof r[i] === 'number') && rows.every((r) => typeof r[i] === 'number' || r[i] === '-'),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        if (i === cells.length - 1 && !numeric[i]) return c;
        const pad = ' '.repeat(widths[i]! - width(c));
        return numeric[i] ? pad + c : c + pad;
      })
      .join('  ');
  return [line(header), ...text.map(line)];
}

/** `[#####.....]`: done over total, `cells` wide. */
export function bar(done: number, total: number, cells = 20): string {
  const full = total > 0 ? Math.round((Math.min(done, total) / total) * cells) : 0;
  return `[${'#'.repeat(full)}${'.'.repeat(cells - full)}]`;
}

export function percent(done: number, total: number): string {
  return total > 0 ? `${Math.floor((done / total) * 100)}%` : '-';
}

const stateColours: Record<string, number> = {
  Up: 32,
  Done: 32,
  Complete: 32,
  Execute: 36,
  Running: 36,
  Open: 36,
  Stopped: 33,
  Queued: 33,
  Closed: 33,
  Lost: 31,
  Fail: 31,
  Failed: 31,
  Cancelled: 31,
};

/** A state word in its colour (green well, cyan busy, yellow waiting, red wrong), on a terminal only. */
export function paint(state: string, tty: boolean): string {
  const c = stateColours[state];
  return tty && c ? `\x1b[${c}m${state}\x1b[0m` : state;
}
