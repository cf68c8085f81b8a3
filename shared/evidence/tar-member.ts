// Unpacks ONE regular file from a tar stream produced inside the pod, on the fly, into a
// Writable (the hashing stream). Nothing from the archive is ever written to the local
// filesystem, and member names are only compared, never used as paths: this is what makes the
// `kubectl cp` path-traversal bugs (CVE-2018-1002100, CVE-2019-1002101, CVE-2019-11246,
// CVE-2019-11249, CVE-2019-11251) impossible here, whatever a compromised `tar` sends.
import tarStream from 'tar-stream';
import type { Writable } from 'node:stream';
import { ForwardingSink, writeWithBackpressure } from './streams.js';

export interface TarMemberOutcome {
  /** The regular-file member was found and copied in full into the target. */
  found: boolean;
  /** Size from the member's header (what tar said it would send). */
  headerSize?: number;
  /** A member with the wanted name that was not a regular file (symlink, hard link, dir...). */
  nonRegular?: { type: string; linkname?: string };
  /** How many members were skipped (other names, non-regular types, duplicates). */
  skipped: number;
  /**
   * Regular members with the wanted name after the first: a tar that sends a decoy first
   * and the real file after it (or the reverse). The copy taken is then not the evidence.
   */
  duplicates: number;
}

/** The member name GNU/BusyBox tar gives an absolute path: the leading `/` is removed. */
export function tarMemberName(absolutePath: string): string {
  return absolutePath.replace(/^\/+/, '');
}

function sameMember(headerName: string, wanted: string): boolean {
  // Only an exact name (optionally with `./` or `/` in front, which some tars emit) matches:
  // `../x`, `a/../x` and the like never do.
  return headerName === wanted || headerName === `./${wanted}` || headerName === `/${wanted}`;
}

export interface TarMemberExtractor {
  /** Give this to the exec as stdout. End it once the exec succeeded; `done` then settles. */
  input: Writable;
  /**
   * Settles when the archive has been read to its end. Rejects on a malformed or cut archive
   * ("Unexpected end of data") or when the target fails.
   */
  done: Promise<TarMemberOutcome>;
  /** Stops reading (after the size cap, or on failure). */
  destroy(err?: Error): void;
}

/**
 * Streams the first regular-file member named `memberName` into `target` (without ending it),
 * and drains every other member. Only `file` and `contiguous-file` members count: symlinks,
 * hard links, devices and directories are skipped, and reported if they carry the wanted name.
 */
export function extractTarMember(memberName: string, target: Writable): TarMemberExtractor {
  const extract = tarStream.extract();
  const outcome: TarMemberOutcome = { found: false, skipped: 0, duplicates: 0 };
  let failed: Error | undefined;

  extract.on('entry', (header, stream, next) => {
    const isRegular = header.type === 'file' || header.type === 'contiguous-file';
    const named = sameMember(header.name, memberName);
    if (named && isRegular && !outcome.found) {
      outcome.found = true;
      if (header.size !== undefined) outcome.headerSize = header.size;
      void (async () => {
        try {
          for await (const chunk of stream as AsyncIterable<Buffer>) await writeWithBackpressure(target, chunk);
          next();
        } catch (err) {
          outcome.found = false;
          failed = err instanceof Error ? err : new Error(String(err));
          next(failed);
        }
      })();
      return;
    }
    if (named && isRegular) outcome.duplicates += 1;
    if (named && !isRegular && outcome.nonRegular === undefined) {
      outcome.nonRegular = { type: header.type ?? 'unknown', ...(header.linkname ? { linkname: header.linkname } : {}) };
    }
    outcome.skipped += 1;
    // Destroying the archive mid-member (the flood cap) errors the member being drained.
    stream.on('error', () => undefined);
    stream.on('end', () => next());
    stream.resume();
  });

  // tar-stream's extract is a streamx Writable: no `writableFinished`, so track 'finish' here.
  let archiveEnded = false;
  const done = new Promise<TarMemberOutcome>((resolve, reject) => {
    extract.on('finish', () => {
      archiveEnded = true;
      if (failed) reject(failed);
      else resolve(outcome);
    });
    extract.on('error', (err: Error) => reject(failed ?? err));
    extract.on('close', () => {
      if (!archiveEnded) reject(failed ?? new Error('tar stream closed before the end of the archive'));
    });
  });
  // Callers that stop early (size cap) never await `done`: keep it from becoming unhandled.
  done.catch(() => undefined);

  const input = new ForwardingSink((chunk) => writeWithBackpressure(extract, chunk));
  input.on('finish', () => extract.end(() => undefined));
  return {
    input,
    done,
    destroy(err?: Error) {
      input.destroy();
      extract.destroy(err);
    },
  };
}
