// Package console serves the serial and VNC consoles of the VMs on this
// node to the API server, which proxies them to users (SPEC: consoles are
// reachable through the API server, never on an open port).
//
// QEMU offers each VM's consoles as unix sockets in the VM's directory:
// serial.sock (a chardev socket server with wait=off, which takes ONE
// client at a time) and vnc.sock. Because the serial socket takes a single
// client, a Manager keeps one relay per VM connected to it for the VM's
// whole life, whether or not anybody watches:
//
//   - everything the guest prints is appended to serial.log in the VM
//     directory, rotated to serial.log.1 past MaxLogSize, so the log never
//     exceeds 2*MaxLogSize and survives the relay (the caller removes it
//     with the VM directory);
//   - the output is fanned out to every attached websocket session, each of
//     which first receives the last TailSize bytes, so a user attaching sees
//     the current screen or prompt;
//   - input from any session is written to the socket;
//   - when QEMU restarts (the socket closes or is absent) the relay keeps
//     redialling until the VM is back or the relay is stopped.
//
// VNC needs no relay: every VNC session dials vnc.sock afresh and the
// websocket is proxied to it byte for byte.
//
// The routes carry no authorization of their own: Register puts them on
// the node listener (downloadapi.Listener), whose rule table admits only
// the API server's certificate (or the deprecated shared secret).
package console
