// Kind-specific panels on an object page. The object page (views/object.jsx)
// is generic over kinds; a kind that needs more than status, conditions,
// events, placement, dependencies and YAML registers panels here, by kind
// name (api/ Kind.Name: "virtualmachine", "environment", "node", ...).
// A panel is a component taking {kind, obj}.
const panels = new Map();

export function registerPanel(kindName, component) {
  if (!panels.has(kindName)) panels.set(kindName, []);
  panels.get(kindName).push(component);
}

export function panelsOf(kindName) { return panels.get(kindName) || []; }
