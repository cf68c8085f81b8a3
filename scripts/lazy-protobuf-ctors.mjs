// A rewrite of protobufjs for the bundle (scripts/bundle.mjs).
//
// protobufjs' Field.resolve puts the field's default on its message's constructor prototype,
// reading `type.ctor`, which generates the constructor (util.codegen: a `new Function` per
// message type) the first time. proto-loader resolves every type of a client's descriptor
// when the client is constructed, so a cold instance compiled a constructor for every message
// of every kept service (~50 ms of CPU on the path to the DELETE, measured) although a call
// only ever builds a few. In the bundle the defaults go on the prototype when the constructor
// is created (the ctor setter, which already runs for generated and registered constructors
// alike), and Field.resolve sets them only on a constructor that already exists: every
// constructor has the same prototype defaults, made when first needed. Likewise Type.setup
// generated all five coders of a type (encode, decode, verify, fromObject, toObject) when any
// was first used, though a request type is only encoded and a response only decoded: each is
// now generated on its first call (eagerly for a type with a wrapper: google.protobuf.Any). The rewrite is
// exact-text: if protobufjs changes, the build fails here instead of shipping something unchecked.
export const PROTOBUF_LAZY_CTORS = {
  'src/field.js': [
    [
      `    if (this.parent instanceof Type)
        this.parent.ctor.prototype[this.name] = this.defaultValue;`,
      `    if (this.parent instanceof Type && this.parent._ctor)
        this.parent._ctor.prototype[this.name] = this.defaultValue;`,
    ],
  ],
  'src/type.js': [
    [
      `    // Replace setup methods with type-specific generated functions
    this.encode = encoder(this)({
        Writer : Writer,
        types  : types,
        util   : util
    });
    this.decode = decoder(this)({
        Reader : Reader,
        types  : types,
        util   : util
    });
    this.verify = verifier(this)({
        types : types,
        util  : util
    });
    this.fromObject = converter.fromObject(this)({
        types : types,
        util  : util
    });
    this.toObject = converter.toObject(this)({
        types : types,
        util  : util
    });
`,
      `    // Replace setup methods with type-specific generated functions, each when first called
    // (bundle: scripts/lazy-protobuf-ctors.mjs); eagerly for a type with a wrapper (Any).
    var self = this;
    var makers = {
        encode: function() { return encoder(self)({ Writer: Writer, types: types, util: util }); },
        decode: function() { return decoder(self)({ Reader: Reader, types: types, util: util }); },
        verify: function() { return verifier(self)({ types: types, util: util }); },
        fromObject: function() { return converter.fromObject(self)({ types: types, util: util }); },
        toObject: function() { return converter.toObject(self)({ types: types, util: util }); }
    };
    Object.keys(makers).forEach(function(name) {
        if (wrappers[fullName]) {
            self[name] = makers[name]();
            return;
        }
        var stub = function() {
            var fn = makers[name]();
            if (self[name] === stub)
                self[name] = fn;
            return fn.apply(this, arguments);
        };
        self[name] = stub;
    });
`,
    ],
    [
      `                this._fieldsArray[i].resolve(); // ensures a proper value`,
      `                ctor.prototype[this._fieldsArray[i].resolve().name] = this._fieldsArray[i].defaultValue; // resolved before the ctor existed: set here`,
    ],
  ],
};

/** The file (protobufjs' src/field.js or src/type.js) with the rewrites applied; throws if an anchor is not found exactly once. */
export function lazyProtobufCtors(text, which, file = `protobufjs/${which}`) {
  const rewrites = PROTOBUF_LAZY_CTORS[which];
  if (!rewrites) throw new Error(`lazy-protobuf-ctors: nothing to rewrite in ${which}`);
  for (const [from, to] of rewrites) {
    if (text.split(from).length !== 2) throw new Error(`${file}: expected exactly one '${from.split('\n')[0].trim()}': protobufjs changed, review scripts/lazy-protobuf-ctors.mjs`);
    text = text.replace(from, to);
  }
  return text;
}
