// import() of a CommonJS package: Node's loader gives its named exports and `default` (=
// module.exports), a bundle's chunk only `default`. Reading module.exports works in both, so
// the deployable bundle and the sources behave the same.

/** module.exports of a CommonJS package loaded with import(), bundled or not. */
export function cjsExports<T>(mod: T): T {
  const d = (mod as { default?: unknown }).default;
  return (typeof d === 'object' || typeof d === 'function') && d !== null ? (d as T) : mod;
}
