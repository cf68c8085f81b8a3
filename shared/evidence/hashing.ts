// Hashes evidence while it streams past (never buffering the file), enforces the size cap,
// and compares the result with the hash in the finding.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { BinaryInfo } from '../finding/types.js';
import type { HashReport } from './types.js';

export interface HashingOptions {
  /** Bytes to pass on; the rest is dropped and `truncated` set. */
  maxBytes: number;
  /** Also hash the first `prefixBytes` bytes separately (the finding's `hashedSize`). */
  prefixBytes?: number;
  /** Called once, when the cap is reached (the caller stops the source). */
  onCap?: () => void;
  /** Called once, before the first byte is passed on (the caller starts the store write). */
  onFirstChunk?: () => void;
}

/**
 * A pass-through that counts and hashes. Digests are final once the stream has finished
 * ('finish' on the writable side); read them with `result()`.
 */
export class HashingTransform extends Transform {
  private readonly whole: Hash = createHash('sha256');
  private readonly prefix: Hash | undefined;
  private readonly prefixBytes: number | undefined;
  private prefixSeen = 0;
  private seen = 0;
  private passed = 0;
  private capped = false;
  private started = false;
  private digests: { sha256: string; prefixSha256?: string } | undefined;

  constructor(private readonly options: HashingOptions) {
    super({ highWaterMark: 256 * 1024 });
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative integer, got ${options.maxBytes}`);
    if (options.prefixBytes !== undefined) {
      if (!Number.isSafeInteger(options.prefixBytes) || options.prefixBytes < 0) throw new RangeError(`prefixBytes must be a non-negative integer, got ${options.prefixBytes}`);
      this.prefix = createHash('sha256');
      this.prefixBytes = options.prefixBytes;
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.capped) {
      callback();
      return;
    }
    let data = chunk;
    const room = this.options.maxBytes - this.passed;
    if (data.length > room) {
      data = data.subarray(0, room);
      this.capped = true;
    }
    if (data.length > 0) {
      if (!this.started) {
        this.started = true;
        this.options.onFirstChunk?.();
      }
      this.whole.update(data);
      if (this.prefix !== undefined && this.prefixBytes !== undefined && this.prefixSeen < this.prefixBytes) {
        const part = data.subarray(0, this.prefixBytes - this.prefixSeen);
        this.prefix.update(part);
        this.prefixSeen += part.length;
      }
      this.passed += data.length;
      this.push(data);
    }
    if (this.capped) this.options.onCap?.();
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.digests = {
      sha256: this.whole.digest('hex'),
      ...(this.prefix === undefined ? {} : { prefixSha256: this.prefix.digest('hex') }),
    };
    callback();
  }

  /** Bytes passed on so far. */
  get bytes(): number {
    return this.passed;
  }

  /** Bytes received so far, including any dropped after the cap. */
  get bytesSeen(): number {
    return this.seen;
  }

  get truncated(): boolean {
    return this.capped;
  }

  /** Final digests; throws before the stream has finished. */
  result(): { sha256: string; size: number; truncated: boolean; prefix?: { bytes: number; sha256: string } } {
    if (this.digests === undefined) throw new Error('HashingTransform.result() called before the stream finished');
    return {
      sha256: this.digests.sha256,
      size: this.passed,
      truncated: this.capped,
      ...(this.digests.prefixSha256 === undefined ? {} : { prefix: { bytes: this.prefixSeen, sha256: this.digests.prefixSha256 } }),
    };
  }
}

/** The prefix length to hash separately for this finding, if its hash is partial. */
export function prefixBytesFor(binary: BinaryInfo | undefined): number | undefined {
  if (binary === undefined || !binary.partiallyHashed || binary.sha256 === undefined) return undefined;
  return binary.hashedSize;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Compares what was copied with the finding's hash. A partial finding hash (`partiallyHashed`,
 * `hashedSize`) is compared with the hash of the copy's first `hashedSize` bytes.
 */
export function compareWithFinding(
  copied: { sha256: string; size: number; truncated: boolean; prefix?: { bytes: number; sha256: string } },
  binary: BinaryInfo | undefined,
): HashReport {
  const expectedSha = binary?.sha256?.toLowerCase();
  const expected: HashReport['expected'] = {
    ...(expectedSha === undefined ? {} : { sha256: expectedSha }),
    partiallyHashed: binary?.partiallyHashed ?? false,
    ...(binary?.hashedSize === undefined ? {} : { hashedSize: binary.hashedSize }),
    ...(binary?.size === undefined ? {} : { size: binary.size }),
  };
  const base = { sha256: copied.sha256, size: copied.size, truncated: copied.truncated, ...(copied.prefix ? { prefix: copied.prefix } : {}), expected };
  const cut = copied.truncated ? ` The copy was cut at the size cap (${copied.size} bytes).` : '';
  /** A comparison that was made: a match is authentic whatever tool read it, a difference is significant. */
  const compared = (what: 'prefix' | 'whole-file', same: boolean, ifSame: string, ifDiffers: string): HashReport => ({
    ...base,
    compared: what,
    verdict: same ? 'matches' : 'differs',
    significant: !same,
    explanation: same ? ifSame : ifDiffers,
  });
  if (expectedSha === undefined || !HEX64.test(expectedSha)) {
    return {
      ...base,
      compared: 'none',
      verdict: 'finding-has-no-hash',
      significant: false,
      explanation: `The finding carries no usable SHA-256, so the copy cannot be checked against it; it is only as trustworthy as the tool that read it.${cut}`,
    };
  }
  if (expected.partiallyHashed) {
    const want = expected.hashedSize;
    if (want === undefined || copied.prefix === undefined) {
      return { ...base, compared: 'none', verdict: 'finding-has-no-hash', significant: false, explanation: `The finding's hash is partial but gives no hashedSize, so it cannot be compared.${cut}` };
    }
    if (copied.prefix.bytes < want) {
      if (copied.truncated) {
        return { ...base, compared: 'none', verdict: 'truncated', significant: false, explanation: `The finding hashed the first ${want} bytes but the copy stopped at the size cap after ${copied.size}; no comparison was possible.` };
      }
      return {
        ...base,
        compared: 'prefix',
        verdict: 'differs',
        significant: true,
        explanation: `The finding hashed the first ${want} bytes but the file now has only ${copied.size}: the binary changed after detection, or the tool that read it lied.`,
      };
    }
    return compared(
      'prefix',
      copied.prefix.sha256 === expectedSha,
      `The SHA-256 of the first ${want} bytes matches the finding's partial hash: the copy is the detected binary (the rest of the file is not covered by the finding).${cut}`,
      `The SHA-256 of the first ${want} bytes differs from the finding's partial hash: the binary changed after detection, or the tool that read it lied.${cut}`,
    );
  }
  if (copied.truncated) {
    return { ...base, compared: 'none', verdict: 'truncated', significant: false, explanation: `The copy stopped at the size cap after ${copied.size} bytes, so its hash cannot be compared with the finding's whole-file hash.` };
  }
  return compared(
    'whole-file',
    copied.sha256 === expectedSha,
    'The SHA-256 of the copy matches the finding: the copy is the detected binary, whatever tool read it.',
    'The SHA-256 of the copy differs from the finding: the binary changed again after detection, or the tool that read it lied. Treat this as a finding in itself.',
  );
}
