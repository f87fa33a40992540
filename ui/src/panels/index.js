// Kind-specific panels (registerPanel in ../panels.js).
