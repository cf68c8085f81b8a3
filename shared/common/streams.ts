// Backpressure helpers shared by the exec adapter (shared/kube) and the evidence pipeline
// (shared/evidence): wait until a full writable drains, or fail if it closes or errors first.

type Target = NodeJS.WritableStream & { destroyed?: boolean };

/** Resolves on 'drain'; rejects with `closedMessage` on 'close', or with the error on 'error'. */
export function waitForDrain(target: Target, closedMessage: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      target.removeListener('drain', onDrain);
      target.removeListener('close', onClose);
      target.removeListener('error', onError);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error(closedMessage));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    target.on('drain', onDrain);
    target.on('close', onClose);
    target.on('error', onError);
  });
}

/** Writes one chunk and waits for 'drain' when the target is full (or rejects if it dies). */
export function writeWithBackpressure(target: Target, chunk: Buffer): Promise<void> {
  if (target.destroyed === true) return Promise.reject(new Error('write target was destroyed'));
  if (target.write(chunk)) return Promise.resolve();
  return waitForDrain(target, 'write target closed while waiting for drain');
}
