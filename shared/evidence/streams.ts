// Small stream helpers shared by the snapshot and the stores.
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { writeWithBackpressure } from '../common/streams.js';

export { writeWithBackpressure };

/**
 * The stdout handed to the exec adapter. It forwards every chunk to `forward` and holds the
 * write callback until `forward` settles, so a slow store slows the exec stream down instead of
 * piling bytes up in memory. It deliberately does not end or destroy what it forwards to: the
 * snapshot decides, from the exit status, whether the bytes become evidence.
 */
export class ForwardingSink extends Writable {
  constructor(private readonly forward: (chunk: Buffer) => Promise<void>) {
    super({ highWaterMark: 256 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.forward(chunk).then(() => callback(), (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))));
  }
}

/**
 * A pass-through that withholds its end until commit(). The store only finalises an object
 * when its body ends, so bytes from an exec that later fails (dropped stream, non-zero exit,
 * tar member missing) never become a complete object: the gate is destroyed instead.
 */
export class CommitGate extends Transform {
  private pendingFlush: TransformCallback | undefined;
  private committed = false;

  constructor() {
    super({ highWaterMark: 256 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.committed) callback();
    else this.pendingFlush = callback;
  }

  /** Lets the end through once the writable side has ended. */
  commit(): void {
    this.committed = true;
    const cb = this.pendingFlush;
    this.pendingFlush = undefined;
    cb?.();
  }

  get isCommitted(): boolean {
    return this.committed;
  }
}

/** Resolves once `stream` has emitted 'finish' (writable side done); rejects on error/early close. */
export function finishedWriting(stream: Writable): Promise<void> {
  if (stream.writableFinished) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      stream.removeListener('finish', onFinish);
      stream.removeListener('error', onError);
      stream.removeListener('close', onClose);
    };
    const onFinish = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      if (stream.writableFinished) resolve();
      else reject(stream.errored ?? new Error('stream closed before it finished'));
    };
    stream.on('finish', onFinish);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}
