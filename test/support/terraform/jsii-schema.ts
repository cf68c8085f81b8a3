// Converts the type system of a prebuilt CDKTF provider package (`package/.jsii` of
// @cdktf/provider-google, @cdktf/provider-archive) into Terraform provider schemas: the
// same resource and data source names, arguments, nesting and types the provider's own
// GetProviderSchema returns, because CDKTF generated those bindings from that schema.
//
// Where each fact comes from in the .jsii:
// - resource or data source name and kind: the class docs link
//   ("Represents a {@link https://registry.terraform.io/.../docs/resources/x google_x}");
// - arguments: the `<Class>Config` struct the class constructor takes; `optional: false`
//   means Required; each property's docs link ends in `#terraform_name`;
// - nested blocks: struct-typed properties (one struct = a block of at most one item, an
//   array of structs = a list block), with their summary "x block.";
// - computed-only attributes: getters of the class (and of a block's OutputReference class)
//   that have no `<name>Input` twin and are not arguments.
// Not recoverable from the .jsii, and so approximated (documented in infra/README.md):
// list versus set nesting (every repeated block and collection is a list), Optional+Computed
// versus Optional (arguments are Optional only, except `id`, which is Optional+Computed in
// every SDK resource), and provider-side validation functions
// (enum values, regexes), which no schema carries anyway.

/** cty type in its JSON form, as tfplugin6 carries it (`"string"`, `["list","string"]`, ...). */
export type CtyType = string | [string, CtyType] | ['object', Record<string, CtyType>];

export interface TfAttribute {
  name: string;
  type: CtyType;
  required: boolean;
  optional: boolean;
  computed: boolean;
}

export interface TfNestedBlock {
  typeName: string;
  nesting: 'LIST';
  minItems: number;
  maxItems: number;
  block: TfBlock;
}

export interface TfBlock {
  attributes: TfAttribute[];
  blockTypes: TfNestedBlock[];
}

export interface ProviderSchema {
  /** registry.terraform.io/hashicorp/google */
  source: string;
  /** The provider release the package was generated from (package.json cdktf.provider.version). */
  version: string;
  /** npm package the schema came from, e.g. @cdktf/provider-google@16.12.1. */
  npmPackage: string;
  provider: TfBlock;
  resources: Record<string, TfBlock>;
  dataSources: Record<string, TfBlock>;
}

interface JsiiTypeRef {
  primitive?: string;
  fqn?: string;
  collection?: { kind: 'array' | 'map'; elementtype: JsiiTypeRef };
  union?: { types: JsiiTypeRef[] };
}

interface JsiiProperty {
  name: string;
  type: JsiiTypeRef;
  optional?: boolean;
  static?: boolean;
  const?: boolean;
  immutable?: boolean;
  docs?: { summary?: string; remarks?: string };
}

interface JsiiType {
  kind: 'class' | 'interface' | 'enum';
  fqn: string;
  docs?: { summary?: string };
  properties?: JsiiProperty[];
  methods?: { name: string; returns?: { type: JsiiTypeRef } }[];
  initializer?: { parameters?: { name: string; type: JsiiTypeRef }[] };
}

export interface JsiiAssembly {
  name: string;
  version: string;
  types: Record<string, JsiiType>;
}

const CLASS_LINK = /registry\.terraform\.io\/providers\/[^/]+\/[^/]+\/[^/]+\/docs(?:\/(resources|data-sources)\/[^\s}]+)?\s+([A-Za-z0-9_]+)\}/;
const PROPERTY_ANCHOR = /#([A-Za-z0-9_]+)\s+[A-Za-z0-9_]+#[A-Za-z0-9_]+\}/;

/** `buildConfig` -> `build_config`: only a fallback, the docs anchor is authoritative. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function terraformName(p: JsiiProperty): string {
  const m = PROPERTY_ANCHOR.exec(`${p.docs?.remarks ?? ''} ${p.docs?.summary ?? ''}`);
  return m ? (m[1] as string) : snakeCase(p.name);
}

/** Drops cdktf.IResolvable (the "or a token" alternative) from a union. */
function unwrap(t: JsiiTypeRef): JsiiTypeRef {
  if (!t.union) return t;
  const rest = t.union.types.filter((x) => x.fqn !== 'cdktf.IResolvable');
  return rest.length === 1 ? unwrap(rest[0] as JsiiTypeRef) : t;
}

const PRIMITIVES: Record<string, CtyType> = { string: 'string', number: 'number', boolean: 'bool', any: 'dynamic', json: 'dynamic', date: 'string' };

/** cdktf's helper classes for computed collections (cdktf.StringMap, cdktf.NumberListList, ...). */
function cdktfCollection(fqn: string): CtyType | undefined {
  const m = /^cdktf\.(String|Number|Boolean|Any|Anything)((?:Map|List)*)$/.exec(fqn);
  if (!m || m[2] === '') return undefined;
  let type: CtyType = m[1] === 'String' ? 'string' : m[1] === 'Number' ? 'number' : m[1] === 'Boolean' ? 'bool' : 'dynamic';
  // StringMapList is a list of maps of strings: wrappers apply left to right.
  for (const w of (m[2] as string).match(/Map|List/g) ?? []) type = [w === 'Map' ? 'map' : 'list', type];
  return type;
}

export class JsiiSchemaReader {
  constructor(private readonly assembly: JsiiAssembly) {}

  private type(fqn: string): JsiiType | undefined {
    return this.assembly.types[fqn];
  }

  /** The cty type of a value-typed property (not a block). */
  ctyOf(ref: JsiiTypeRef, depth = 0): CtyType {
    const t = unwrap(ref);
    if (t.primitive) return PRIMITIVES[t.primitive] ?? 'dynamic';
    if (t.collection) return [t.collection.kind === 'array' ? 'list' : 'map', this.ctyOf(t.collection.elementtype, depth + 1)];
    if (t.fqn) {
      const builtin = cdktfCollection(t.fqn);
      if (builtin) return builtin;
      if (depth < 8) return this.computedObject(t.fqn, depth);
    }
    return 'dynamic';
  }

  /** A computed nested value: an OutputReference (one object) or a List/Map class of them. */
  private computedObject(fqn: string, depth: number): CtyType {
    const cls = this.type(fqn);
    if (!cls) return 'dynamic';
    const getter = cls.methods?.find((m) => m.name === 'get')?.returns?.type.fqn;
    if (getter) {
      const element = this.objectOfGetters(getter, depth + 1);
      return [fqn.endsWith('Map') ? 'map' : 'list', element];
    }
    // A single computed object: Terraform exposes SDK nested computed values as lists.
    return ['list', this.objectOfGetters(fqn, depth + 1)];
  }

  private objectOfGetters(fqn: string, depth: number): CtyType {
    const cls = this.type(fqn);
    if (!cls) return 'dynamic';
    const attrs: Record<string, CtyType> = {};
    for (const p of this.getters(cls)) attrs[terraformName(p)] = this.ctyOf(p.type, depth);
    return ['object', attrs];
  }

  /** Instance getters of a generated class that are attribute values (not `xInput`, not plumbing). */
  private getters(cls: JsiiType): JsiiProperty[] {
    const names = new Set((cls.properties ?? []).map((p) => p.name));
    return (cls.properties ?? []).filter(
      (p) =>
        !p.static &&
        !p.name.endsWith('Input') &&
        !['internalValue', 'terraformAttribute', 'terraformResource', 'wrapsSet', 'fqn', 'creationStack'].includes(p.name) &&
        !(p.name.startsWith('tf') && names.has(p.name)),
    );
  }

  /** Whether a config property is a nested block, and if so its struct and whether it repeats. */
  private blockOf(p: JsiiProperty): { struct: JsiiType; repeated: boolean } | undefined {
    const t = unwrap(p.type);
    const fqn = t.fqn ?? (t.collection?.kind === 'array' ? unwrap(t.collection.elementtype).fqn : undefined);
    const struct = fqn ? this.type(fqn) : undefined;
    if (!struct || struct.kind !== 'interface') return undefined;
    return { struct, repeated: t.fqn === undefined };
  }

  /**
   * A block from a config struct; `outputClass` (the resource class, or the block's
   * OutputReference) contributes the computed-only attributes.
   */
  block(struct: JsiiType, outputClass: JsiiType | undefined): TfBlock {
    const attributes: TfAttribute[] = [];
    const blockTypes: TfNestedBlock[] = [];
    const argumentNames = new Set<string>();
    for (const p of struct.properties ?? []) {
      argumentNames.add(p.name);
      const nested = this.blockOf(p);
      const name = terraformName(p);
      if (nested) {
        const ref = this.outputReferenceFor(nested.struct.fqn);
        blockTypes.push({
          typeName: name,
          nesting: 'LIST',
          minItems: p.optional ? 0 : 1,
          maxItems: nested.repeated ? 0 : 1,
          block: this.block(nested.struct, ref),
        });
      } else {
        // `id` is Optional+Computed in every SDK resource (cdktf lists it as an optional argument).
        const computed = name === 'id' && Boolean(p.optional);
        attributes.push({ name, type: this.ctyOf(p.type), required: !p.optional, optional: Boolean(p.optional), computed });
      }
    }
    for (const p of outputClass ? this.getters(outputClass) : []) {
      if (argumentNames.has(p.name)) continue;
      attributes.push({ name: terraformName(p), type: this.ctyOf(p.type), required: false, optional: false, computed: true });
    }
    return { attributes, blockTypes };
  }

  private outputReferenceFor(structFqn: string): JsiiType | undefined {
    return this.type(`${structFqn}OutputReference`);
  }

  /** Every resource, data source and the provider configuration block of the assembly. */
  read(): { provider: TfBlock; resources: Record<string, TfBlock>; dataSources: Record<string, TfBlock> } {
    const resources: Record<string, TfBlock> = {};
    const dataSources: Record<string, TfBlock> = {};
    let provider: TfBlock | undefined;
    for (const cls of Object.values(this.assembly.types)) {
      if (cls.kind !== 'class') continue;
      const link = CLASS_LINK.exec(cls.docs?.summary ?? '');
      const configFqn = cls.initializer?.parameters?.find((x) => x.name === 'config')?.type.fqn;
      const config = configFqn ? this.type(configFqn) : undefined;
      if (!link || !config) continue;
      const [, kind, name] = link as unknown as [string, string | undefined, string];
      if (kind === undefined) {
        // The provider's own configuration; cdktf adds `alias`, a Terraform meta-argument.
        const block = this.block(config, undefined);
        provider = { ...block, attributes: block.attributes.filter((a) => a.name !== 'alias') };
        continue;
      }
      (kind === 'resources' ? resources : dataSources)[name] = this.block(config, cls);
    }
    if (!provider) throw new Error(`${this.assembly.name}@${this.assembly.version}: no provider class found in the .jsii`);
    if (Object.keys(resources).length === 0) throw new Error(`${this.assembly.name}@${this.assembly.version}: no resource classes found in the .jsii`);
    return { provider, resources, dataSources };
  }
}

/** The provider schema of one CDKTF provider package (its parsed .jsii and package.json). */
export function schemaFromJsii(assembly: JsiiAssembly, packageJson: { cdktf?: { provider?: { name?: string; version?: string } } }): ProviderSchema {
  const provider = packageJson.cdktf?.provider;
  if (!provider?.name || !provider.version) throw new Error(`${assembly.name}@${assembly.version}: package.json has no cdktf.provider name/version`);
  return {
    source: provider.name,
    version: provider.version,
    npmPackage: `${assembly.name}@${assembly.version}`,
    ...new JsiiSchemaReader(assembly).read(),
  };
}
