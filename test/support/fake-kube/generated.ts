// Deterministic, offset-addressable pseudo-random bytes for "generated" fake files: any
// byte range can be produced without the bytes before it, so the fake streams files of any
// size without holding them in memory and tests compute expected hashes independently.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const WORD = 4;

/** 32-bit mix (murmur3 finaliser) of the seed and the word index. */
function word(seed: number, index: number): number {
  let h = (Math.imul(index, 0x9e3779b1) ^ Math.imul(seed | 0, 0x85ebca6b) ^ 0x27d4eb2f) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** `length` bytes of the stream for `seed`, starting at byte `offset`. */
export function generatedBytes(seed: number, offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let pos = 0;
  let abs = offset;
  while (pos < length) {
    const w = word(seed, Math.floor(abs / WORD));
    const within = abs % WORD;
    if (within === 0 && length - pos >= WORD) {
      out.writeUInt32LE(w, pos);
      pos += WORD;
      abs += WORD;
    } else {
      out[pos] = (w >>> (within * 8)) & 0xff;
      pos += 1;
      abs += 1;
    }
  }
  return out;
}

export const GENERATED_CHUNK = 64 * 1024;

/** A pull-based stream of the generated content: one chunk produced per read. */
export function generatedStream(size: number, seed: number, chunk = GENERATED_CHUNK): Readable {
  let offset = 0;
  return new Readable({
    highWaterMark: chunk,
    read() {
      if (offset >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk, size - offset);
      const buf = generatedBytes(seed, offset, n);
      offset += n;
      this.push(buf);
    },
  });
}

/** SHA-256 (hex) of the first `prefixBytes` (default: all) bytes of a generated file. */
export function sha256OfGenerated(size: number, seed: number, prefixBytes?: number): string {
  const total = Math.min(size, prefixBytes ?? size);
  const hash = createHash('sha256');
  for (let off = 0; off < total; off += 1024 * 1024) {
    hash.update(generatedBytes(seed, off, Math.min(1024 * 1024, total - off)));
  }
  return hash.digest('hex');
}
