// Consoles and the console-link page (serial with xterm.js, VNC with noVNC).
