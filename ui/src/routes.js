// The route table: every page of the console. Views register themselves
// with addRoute (order matters: the first match wins). chrome: false pages
// (the console-link page) show no navigation at all.
const routes = [];

export function addRoute(pattern, component, { chrome = true, auth = true } = {}) {
  routes.push({ pattern, component, chrome, auth });
}

export function allRoutes() { return routes; }
