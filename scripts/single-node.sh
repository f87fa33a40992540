#!/usr/bin/env bash
# Runs a single-node humstack on this machine, as root: the apiserver
# (embedded store) and one agent in All mode (Core and System). State
# lives under $HUMSTACK_HOME (default ./run): database/ (with pki/ca.crt
# and admin.token), agent.yaml, pki/ (the node's credential),
# blockstorages/, images/, virtualmachines/, apiserver.log. Ctrl-C stops
# both; VMs keep running (QEMU is not a child of the agent) and are adopted
# on the next start.
#
# As humstack runs by default: HTTPS with the cluster CA and RBAC. The
# script writes and selects the humcli context "local" (server, CA, the
# bootstrap admin token), so `humcli get vm` works at once, and so do the
# seed's `humcli --api-server-address localhost --api-server-port 8080 ...`
# (they take the context of the server they name); it joins the agent with
# a join token (agent.yaml: joinTokenFile, apiServerCAFile, pkiDirPath). No
# shared secret: the node listener and the console relay use the node's and
# the apiserver's certificates.
#
# INSECURE=1 runs the trusted-lab setup instead (the original humstack's
# clients need it): plain HTTP, --authorization off, and a generated
# shared download secret (agent-insecure.yaml).
#
# The agent needs net.ipv4.ip_forward=1 for networks with a default
# gateway (NAPT); this script turns it on and says so.
set -euo pipefail
home=${HUMSTACK_HOME:-./run}
port=${PORT:-8080}
bin=${BIN:-./bin}
insecure=${INSECURE:-0}
mkdir -p "$home"
home=$(cd "$home" && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "single-node: run as root (the agent makes bridges, taps and QEMU processes)" >&2
  exit 1
fi
agentcfg=$home/agent.yaml
if [ "$insecure" = 1 ]; then
  agentcfg=$home/agent-insecure.yaml
  if [ ! -s "$home/secret" ]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$home/secret")
  fi
elif [ -f "$agentcfg" ] && ! grep -q '^joinTokenFile:' "$agentcfg"; then
  # An agent.yaml of an older, plain-HTTP make run: keep it aside.
  mv "$agentcfg" "$agentcfg.plain-http"
  echo "single-node: $agentcfg had no join token (plain HTTP); moved to $agentcfg.plain-http"
fi
if [ ! -f "$agentcfg" ]; then
  cat > "$agentcfg" <<YAML
apiServerAddress: 127.0.0.1
apiServerPort: $port
agentMode: All
nodeName: $(hostname | tr 'A-Z' 'a-z' | tr -c 'a-z0-9-\n' '-')
blockStorageAgentConfig:
  blockStorageDirPath: $home/blockstorages
  imageDirPath: $home/images
  downloadAPI:
    listenAddress: 127.0.0.1
$([ "$insecure" = 1 ] && echo "    secretFile: $home/secret")
imageAgentConfig:
  blockStorageDirPath: $home/blockstorages
  imageDirPath: $home/images
virtualMachineAgentConfig:
  virtualMachineDirPath: $home/virtualmachines
YAML
  if [ "$insecure" != 1 ]; then
    cat >> "$agentcfg" <<YAML
joinTokenFile: $home/jointoken
apiServerCAFile: $home/database/pki/ca.crt
pkiDirPath: $home/pki
YAML
  fi
  echo "single-node: wrote $agentcfg (edit it to change the node; see docs/agent.md)"
fi
if [ "$(cat /proc/sys/net/ipv4/ip_forward)" != 1 ]; then
  echo "single-node: enabling net.ipv4.ip_forward (networks with a default gateway are NAPT'ed)"
  sysctl -qw net.ipv4.ip_forward=1
fi
mode=()
[ "$insecure" = 1 ] && mode=(--insecure-http --authorization off --node-secret-file "$home/secret")
"$bin/apiserver" --listen-address 127.0.0.1 --listen-port "$port" --data-dir "$home/database" \
  "${mode[@]}" >>"$home/apiserver.log" 2>&1 &
api=$!
trap 'kill $api 2>/dev/null; wait $api 2>/dev/null' EXIT
for _ in $(seq 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then break; fi
  kill -0 $api 2>/dev/null || { echo "single-node: apiserver exited; see $home/apiserver.log" >&2; exit 1; }
  sleep 0.1
done
if [ "$insecure" != 1 ]; then
  # The context first (humcli then needs no flags), with the bootstrap
  # admin token; then a join token for the agent unless it has joined.
  for _ in $(seq 50); do [ -s "$home/database/admin.token" ] && break; sleep 0.1; done
  "$bin/humcli" login --server "https://127.0.0.1:$port" --ca-file "$home/database/pki/ca.crt" \
    --token-file "$home/database/admin.token" --name local
  # The agent runs Core too (agentMode All): its node needs the built-in
  # role core-agent for cascading deletion (a node cannot grant it itself).
  node=$(sed -n 's/^nodeName: //p' "$agentcfg")
  printf 'meta: {apiType: corev0/clusterrolebinding, id: core-agent-%s}\nspec: {role: core-agent, subjects: [{kind: node, name: %s}]}\n' \
    "$node" "$node" | "$bin/humcli" apply -f - >/dev/null
  if [ ! -s "$home/pki/node.crt" ]; then
    (umask 077; "$bin/humcli" node join-token --ttl 10m --description single-node |
      sed -n 's/^joinToken: //p' > "$home/jointoken")
  fi
  echo "single-node: HTTPS and RBAC, $(grep -m1 'cluster CA fingerprint' "$home/apiserver.log")"
  echo "single-node: humcli context \"local\" is the cluster admin (token in $home/database/admin.token)"
  echo "single-node: web console at https://127.0.0.1:$port/ui/ (trust $home/database/pki/ca.crt; sign in with that token)"
fi
echo "single-node: apiserver on 127.0.0.1:$port (log $home/apiserver.log); starting the agent (Ctrl-C stops both)"
"$bin/agent" --config "$agentcfg"
