// A rewrite of google-gax for the bundle (scripts/bundle.mjs).
//
// google-gax's index (and fallback.js, longRunningCalls/longrunning.js) require its static
// protobufjs classes for IAM, Locations and Operations (build/protos/*.js, ~0.6 MB of
// generated JavaScript that defines hundreds of message constructors when evaluated: ~20 ms
// of CPU on a cold instance) only to re-export them as IamProtos, LocationProtos and
// operationsProtos. A client reads them only in an LRO's getOperation/cancelOperation, which
// ours never call. In the bundle each module is required the first time anything reads it,
// with the same value after that. If gax stops requiring them this way the build fails.
const STATIC_PROTOS = /__importStar\(require\("((?:\.\.\/)+protos\/(?:iam_service|locations|operations))"\)\)/g;

/** gax's module text with its static protos required on first read; throws if there are none. */
export function lazyGaxStaticProtos(text, file = 'google-gax/build/src/index.js') {
  let n = 0;
  const out = text.replace(STATIC_PROTOS, (_m, spec) => {
    n++;
    return `__lazyStaticProtos(() => __importStar(require(${JSON.stringify(spec)})))`;
  });
  if (n === 0) throw new Error(`${file}: no require of its static protos found: google-gax changed, review scripts/lazy-gax-protos.mjs`);
  // A Proxy over an empty target that forwards to the module once loaded. Descriptors are
  // reported configurable: Proxy invariants forbid non-configurable ones the target lacks.
  return `${out}
function __lazyStaticProtos(load) {
  let real;
  const get = () => (real ??= load());
  return new Proxy({}, {
    get: (_t, key) => Reflect.get(get(), key),
    has: (_t, key) => Reflect.has(get(), key),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_t, key) => {
      const d = Reflect.getOwnPropertyDescriptor(get(), key);
      return d && { ...d, configurable: true };
    },
  });
}
`;
}
