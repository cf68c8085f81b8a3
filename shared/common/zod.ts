// zod as this project's schemas use it: every module that builds a schema imports `z` from
// here, not from 'zod', so the setting below holds before the first schema is constructed.
//
// jitless: zod otherwise generates (new Function) and compiles a parser per object schema on
// its first parse. That pays off over thousands of parses of one schema; here nearly every
// parse is a first one on a new instance (the configuration, the policy, the first finding's
// full validation), so the generated code costs more CPU than it saves: about 12 ms less per
// cold instance without it (config + policy + one finding, measured 2026-12-02). Both are zod's
// own parsers with the same results and messages (zod's documented mode for environments that
// forbid eval); the tests and the CLI run with the same setting as the function.
import { z } from 'zod';

z.config({ jitless: true });

export { z };
