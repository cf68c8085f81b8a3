// A rewrite of @grpc/proto-loader for the bundle (scripts/bundle.mjs).
//
// @grpc/proto-loader turns every message of a client's descriptor into a definition with a
// DescriptorProto object and the encoded FileDescriptorProtos of the whole root, eagerly, when
// the client is constructed. Only gRPC server reflection reads them; a client never does. In
// the bundle they are computed on first read (same values, cached): a third of each gax
// client's construction time on a cold instance. The rewrite is exact-text: if proto-loader
// changes, the build fails here instead of shipping something unchecked.
export const PROTO_LOADER_LAZY = [
  // protobufjs/ext/descriptor (a root of descriptor.proto, built when required; it also adds
  // toDescriptor to protobufjs' classes) is needed only by the lazy getters below.
  [
    `const descriptor = require("protobufjs/ext/descriptor");`,
    `let descriptorModule;
const loadDescriptor = () => (descriptorModule ??= require("protobufjs/ext/descriptor"));
const descriptor = new Proxy({}, { get: (_t, key) => loadDescriptor()[key] });`,
  ],
  [
    `    const messageDescriptor = message.toDescriptor('proto3');
    return {
        format: 'Protocol Buffer 3 DescriptorProto',
        type: messageDescriptor.$type.toObject(messageDescriptor, descriptorOptions),
        fileDescriptorProtos: fileDescriptors,`,
    `    let type;
    return {
        format: 'Protocol Buffer 3 DescriptorProto',
        get type() { if (type === undefined) { loadDescriptor(); const d = message.toDescriptor('proto3'); type = d.$type.toObject(d, descriptorOptions); } return type; },
        get fileDescriptorProtos() { return fileDescriptors(); },`,
  ],
  [
    `    const enumDescriptor = enumType.toDescriptor('proto3');
    return {
        format: 'Protocol Buffer 3 EnumDescriptorProto',
        type: enumDescriptor.$type.toObject(enumDescriptor, descriptorOptions),
        fileDescriptorProtos: fileDescriptors,`,
    `    let type;
    return {
        format: 'Protocol Buffer 3 EnumDescriptorProto',
        get type() { if (type === undefined) { loadDescriptor(); const d = enumType.toDescriptor('proto3'); type = d.$type.toObject(d, descriptorOptions); } return type; },
        get fileDescriptorProtos() { return fileDescriptors(); },`,
  ],
  [
    `    const descriptorList = root.toDescriptor('proto3').file;
    const bufferList = descriptorList.map(value => Buffer.from(descriptor.FileDescriptorProto.encode(value).finish()));`,
    `    let buffers;
    const bufferList = () => (buffers ??= (loadDescriptor(), root).toDescriptor('proto3').file.map(value => Buffer.from(descriptor.FileDescriptorProto.encode(value).finish())));`,
  ],
];
/** proto-loader's build/src/index.js with the rewrites applied; throws if any anchor is not found exactly once. */
export function lazyProtoLoader(text, file = '@grpc/proto-loader/build/src/index.js') {
  for (const [from, to] of PROTO_LOADER_LAZY) {
    if (text.split(from).length !== 2) throw new Error(`${file}: expected exactly one '${from.split('\n')[0].trim()}': proto-loader changed, review scripts/lazy-proto-loader.mjs`);
    text = text.replace(from, to);
  }
  return text;
}
