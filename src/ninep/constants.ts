/** Protocol constants of 9P2000 (see intro(9P), fcall(3)). */

/** Tag of Tversion, which is answered before any tag table exists. */
export const NOTAG = 0xffff;
/** "No fid", e.g. Tattach.afid when not authenticating. */
export const NOFID = 0xffffffff;
/** Bytes of header in Tread/Twrite/Rread; iounit = msize - IOHDRSZ. */
export const IOHDRSZ = 24;
/** The largest u64 (a stat's "don't touch" length and qid path, the wire's bound). */
export const U64_MAX = (1n << 64n) - 1n;
/** At most this many names per Twalk (and qids per Rwalk). */
export const MAXWELEM = 16;
/** size[4] type[1] tag[2]: the smallest possible frame. */
export const HEADER_SIZE = 7;

export const VERSION_9P2000 = '9P2000';
export const VERSION_UNKNOWN = 'unknown';

/**
 * 1 MiB of payload per read/write plus the header: between taskfs nodes a
 * stream moves in fewer, larger messages (Linux v9fs and diod go to 512 KiB).
 * What this lets replies hold is bounded in handlers.ts (FULL_SIZE_READS).
 */
export const DEFAULT_MSIZE = 1024 * 1024 + IOHDRSZ;
/** Below this an Rerror or a stat may not fit; such a client is refused. */
export const MIN_MSIZE = 256;

/** Server limits per connection (ServeOptions.maxFids, maxPending). */
export const DEFAULT_MAX_FIDS = 4096;
export const DEFAULT_MAX_PENDING = 256;

/** Qid type bit of an authentication file (Rauth.aqid). */
export const QTAUTH = 0x08;

/** Topen/Tcreate mode values and bits (open(9P)). */
export const OREAD = 0;
export const OWRITE = 1;
export const ORDWR = 2;
export const OEXEC = 3;
export const OTRUNC = 0x10;
export const ORCLOSE = 0x40;
