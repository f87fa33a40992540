// Paths of a VM's API routes and of the UI's console pages. Pure (unit-tested).
import { VM, enc, objectPath } from '../lib/paths.js';

// vmPath is the API path of a VM object.
export function vmPath(group, namespace, id) {
  return objectPath(VM, { group, namespace, id });
}

// consoleHref is the UI page of a VM's console (which: serial | vnc): the
// full page for a signed-in user, or the console-link page's own when a
// link token is given.
export function consoleHref({ group, namespace, id, link }, which) {
  if (link) return `#/link/${enc(link)}/${enc(id)}/${which}`;
  return `#/console/${enc(group)}/${enc(namespace)}/${enc(id)}/${which}`;
}

// closeText explains a websocket close: the server's reason when it gave
// one, else the status code's meaning.
export function closeText(code, reason) {
  if (reason) return reason;
  const known = {
    1000: 'closed', 1001: 'going away (the VM stopped)', 1006: 'connection failed or lost',
    1008: 'refused (policy)', 1011: 'server error',
  };
  return `${known[code] || 'closed'} (${code})`;
}

// whyRefused asks the API, without a websocket upgrade, why a console's
// websocket closed before it opened (browsers hide the refusal's answer):
// the server's message for a refusal it explains, else ''.
export async function whyRefused(get, path) {
  try {
    await get(path);
    return '';
  } catch (e) {
    return [401, 403, 404, 409, 502, 503].includes(e.status) ? e.message : '';
  }
}
