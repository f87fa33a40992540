// Kind-specific panels (registerPanel in ../panels.js): VM power and
// consoles, an environment's copies, resets and golden capture, and the
// reset of a copy from its namespace's page.
import { registerPanel } from '../panels.js';
import { VMPanel } from './vm.jsx';
import { EnvironmentPanel } from './env.jsx';
import { NamespaceResetPanel } from './nsreset.jsx';

registerPanel('virtualmachine', VMPanel);
registerPanel('environment', EnvironmentPanel);
registerPanel('namespace', NamespaceResetPanel);
