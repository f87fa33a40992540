#!/usr/bin/env bash
# Boots a first VM on the single-node humstack that `make run` started
# (run this in a second terminal, as root): it builds the small test guest
# image from Debian packages (cached), serves it over HTTP on 127.0.0.1,
# applies examples/quickstart/vm.yaml with a fresh SSH key, waits for the
# VM to run and answer ping, and prints how to log in.
set -euo pipefail
home=${HUMSTACK_HOME:-./run}
port=${PORT:-8080}
bin=${BIN:-./bin}
image=${IMAGE:-tiny}
humcli() { "$bin/humcli" --api-server-address 127.0.0.1 --api-server-port "$port" "$@"; }
# Wait for `make run`: its agent's config, and its node Ready in the API.
for _ in $(seq 120); do
  [ -f "$home/agent.yaml" ] && humcli get node 2>/dev/null | grep -q ' Ready ' && break
  sleep 0.5
done
[ -f "$home/agent.yaml" ] || { echo "demo: no $home/agent.yaml: is \`make run\` running?" >&2; exit 1; }
node=$(sed -n 's/^nodeName: //p' "$home/agent.yaml")
[ -f "$home/demo_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$home/demo_key"
"$bin/humlab" image "$image" -serve 127.0.0.1:8099 &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null' EXIT
for _ in $(seq 600); do
  (exec 3<>/dev/tcp/127.0.0.1/8099) 2>/dev/null && break
  kill -0 $srv 2>/dev/null || { echo "demo: image server failed" >&2; exit 1; }
  sleep 0.5
done
sed -e "s|IMAGE_URL|http://127.0.0.1:8099/$image.qcow2|" -e "s|NODE|$node|" \
  -e "s|SSH_KEY|$(cat "$home/demo_key.pub")|" examples/quickstart/vm.yaml > "$home/vm.yaml"
start=$(date +%s)
humcli apply -f "$home/vm.yaml"
echo "demo: waiting for vm1 to run (humcli get vm --g demo --n default)"
for _ in $(seq 300); do
  state=$(humcli get vm vm1 --g demo --n default -o json | sed -n 's/.*"state": *"\([A-Za-z]*\)".*/\1/p' | head -1)
  [ "$state" = Running ] && break
  [ "$state" = Error ] && { humcli get vm vm1 --g demo --n default -o yaml; exit 1; }
  sleep 1
done
[ "$state" = Running ] || { echo "demo: vm1 is $state" >&2; exit 1; }
for _ in $(seq 120); do
  ping -c1 -W1 10.0.0.10 >/dev/null 2>&1 && break
done
ping -c1 -W1 10.0.0.10 >/dev/null || { echo "demo: vm1 does not answer ping; see: humcli console --log vm1 --g demo --n default" >&2; exit 1; }
echo "demo: vm1 runs and answers ping at 10.0.0.10 ($(( $(date +%s) - start )) s after apply)"
echo "demo: log in with: ssh -i $home/demo_key demo@10.0.0.10   (console: bin/humcli console vm1 --g demo --n default)"
