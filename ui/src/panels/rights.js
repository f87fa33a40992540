// What the caller may do, for the panels: the shell's whoami
// (lib/whoami.js) and its checks (lib/access.js). Without a whoami (not
// loaded, or an older server) actions are shown and the server's refusal
// is what the user sees.
import { can } from '../lib/access.js';
import { useAccessCtx } from '../lib/whoami.js';

export const useWho = () => useAccessCtx().who;

// allows says whether who may do verb on plural at (g, ns); true when who is unknown.
export const allows = (who, verb, plural, g = '', ns = '') => !who || can(who, verb, plural, g, ns);

// verbsOf lists the verbs of a VM-like panel that who may use at (g, ns)
// on plural, or null when who is unknown.
export function verbsOf(who, plural, g, ns, verbs) {
  return who ? verbs.filter((v) => can(who, v, plural, g, ns)) : null;
}
