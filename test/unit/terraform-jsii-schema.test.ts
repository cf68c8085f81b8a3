// The .jsii -> Terraform schema conversion on a small assembly shaped like CDKTF's output
// (the real packages are exercised by test/integration/terraform-validate.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schemaFromJsii, snakeCase, type JsiiAssembly } from '../support/terraform/jsii-schema.js';

const link = (kind: string, name: string) => `Represents a {@link https://registry.terraform.io/providers/hashicorp/x/1.2.3/docs${kind} ${name}}.`;
const anchor = (name: string) => ({ remarks: `Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/x/1.2.3/docs/resources/x_thing#${name} XThing#${name}}` });
const S = { primitive: 'string' };

const assembly: JsiiAssembly = {
  name: '@cdktf/provider-x',
  version: '9.9.9',
  types: {
    'p.provider.XProvider': { kind: 'class', fqn: 'p.provider.XProvider', docs: { summary: link('', 'x') }, initializer: { parameters: [{ name: 'config', type: { fqn: 'p.provider.XProviderConfig' } }] } },
    'p.provider.XProviderConfig': { kind: 'interface', fqn: 'p.provider.XProviderConfig', properties: [{ name: 'alias', type: S, optional: true }, { name: 'project', type: S, optional: true, docs: anchor('project') }] },
    'p.thing.XThing': {
      kind: 'class',
      fqn: 'p.thing.XThing',
      docs: { summary: link('/resources/thing', 'x_thing') },
      initializer: { parameters: [{ name: 'config', type: { fqn: 'p.thing.XThingConfig' } }] },
      properties: [
        { name: 'tfResourceType', type: S, static: true, const: true },
        { name: 'name', type: S },
        { name: 'nameInput', type: S, optional: true },
        { name: 'selfLink', type: S, docs: anchor('self_link') },
        { name: 'effectiveLabels', type: { fqn: 'cdktf.StringMap' } },
      ],
    },
    'p.thing.XThingConfig': {
      kind: 'interface',
      fqn: 'p.thing.XThingConfig',
      properties: [
        { name: 'name', type: S, docs: anchor('name') },
        { name: 'id', type: S, optional: true, docs: anchor('id') },
        { name: 'enabled', type: { union: { types: [{ primitive: 'boolean' }, { fqn: 'cdktf.IResolvable' }] } }, optional: true },
        { name: 'tags', type: { collection: { kind: 'array', elementtype: S } }, optional: true },
        { name: 'settings', type: { fqn: 'p.thing.XThingSettings' }, optional: true, docs: anchor('settings') },
        { name: 'rule', type: { union: { types: [{ fqn: 'cdktf.IResolvable' }, { collection: { kind: 'array', elementtype: { fqn: 'p.thing.XThingRule' } } }] } }, docs: anchor('rule') },
      ],
    },
    'p.thing.XThingSettings': { kind: 'interface', fqn: 'p.thing.XThingSettings', properties: [{ name: 'tier', type: S, optional: true, docs: anchor('tier') }] },
    'p.thing.XThingSettingsOutputReference': {
      kind: 'class',
      fqn: 'p.thing.XThingSettingsOutputReference',
      properties: [
        { name: 'internalValue', type: { fqn: 'p.thing.XThingSettings' }, optional: true },
        { name: 'tier', type: S },
        { name: 'tierInput', type: S, optional: true },
        { name: 'version', type: { primitive: 'number' } },
      ],
    },
    'p.thing.XThingRule': { kind: 'interface', fqn: 'p.thing.XThingRule', properties: [{ name: 'action', type: S, docs: anchor('action') }] },
    'p.data.DataXThing': { kind: 'class', fqn: 'p.data.DataXThing', docs: { summary: link('/data-sources/thing', 'x_thing') }, initializer: { parameters: [{ name: 'config', type: { fqn: 'p.data.DataXThingConfig' } }] } },
    'p.data.DataXThingConfig': { kind: 'interface', fqn: 'p.data.DataXThingConfig', properties: [{ name: 'name', type: S }] },
  },
};

test('resources, data sources and the provider block, with Terraform names, kinds and types', () => {
  const s = schemaFromJsii(assembly, { cdktf: { provider: { name: 'registry.terraform.io/hashicorp/x', version: '1.2.3' } } });
  assert.equal(s.version, '1.2.3');
  assert.equal(s.npmPackage, '@cdktf/provider-x@9.9.9');
  assert.deepEqual(s.provider.attributes.map((a) => a.name), ['project'], 'alias is a meta-argument');
  const thing = s.resources['x_thing'];
  assert.ok(thing);
  const attrs = Object.fromEntries(thing.attributes.map((a) => [a.name, a]));
  assert.deepEqual(attrs['name'], { name: 'name', type: 'string', required: true, optional: false, computed: false });
  assert.deepEqual(attrs['id'], { name: 'id', type: 'string', required: false, optional: true, computed: true }, 'id is Optional+Computed');
  assert.equal(attrs['enabled']?.type, 'bool', 'IResolvable dropped from the union');
  assert.deepEqual(attrs['tags']?.type, ['list', 'string']);
  assert.deepEqual(attrs['self_link'], { name: 'self_link', type: 'string', required: false, optional: false, computed: true });
  assert.deepEqual(attrs['effective_labels']?.type, ['map', 'string']);
  assert.equal(attrs['tf_resource_type'], undefined, 'statics are not attributes');
  const [settings, rule] = thing.blockTypes;
  assert.deepEqual([settings?.typeName, settings?.minItems, settings?.maxItems], ['settings', 0, 1]);
  assert.deepEqual(settings?.block.attributes.map((a) => [a.name, a.computed]), [['tier', false], ['version', true]], 'computed attribute of a block from its OutputReference');
  assert.deepEqual([rule?.typeName, rule?.minItems, rule?.maxItems], ['rule', 1, 0], 'required repeated block');
  assert.ok(s.dataSources['x_thing']);
});

test('names without a docs anchor fall back to snake_case; broken packages are refused', () => {
  assert.equal(snakeCase('buildConfig'), 'build_config');
  assert.equal(snakeCase('name'), 'name');
  assert.throws(() => schemaFromJsii(assembly, {}), /no cdktf\.provider/);
  assert.throws(() => schemaFromJsii({ ...assembly, types: {} }, { cdktf: { provider: { name: 'n', version: '1' } } }), /no provider class/);
});
