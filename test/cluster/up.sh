#!/usr/bin/env bash
# Starts the real test cluster on 127.0.0.1: etcd, kube-apiserver (TLS, token auth, RBAC),
# kube-controller-manager, kube-scheduler, kwok (one fake node; pods become Ready), the CRDs of Gateway
# API, Istio and the Prometheus Operator, a helm chart repository (nginx) and an OCI registry
# (docker-registry) with the charts of test/cluster/charts. Every port is a free one picked at start.
#   test/cluster/up.sh DIR [--owner PID | --fixture]
# DIR (created, must be empty or absent) then holds:
#   kubeconfig          cluster-admin (token "admin", group system:masters)
#   kubeconfig-viewer   a user with no rights beyond discovery (for Forbidden answers)
#   cluster.env         KUBECONFIG, PATH (the built tools first), SLIPWAY_TEST_CHART_REPO, ... as NAME=VALUE
#   pids, logs/, etcd/, pki/, charts/
# On any failure it stops what it started (down.sh) and exits non-zero with the component's log tail.
# --owner PID: a watchdog stops the cluster when PID exits (ctest runs up.sh as a fixture; if ctest
# itself is killed, nothing is left running).
# --fixture: what ctest runs: stops a cluster an earlier, killed run left in DIR, and the owner is ctest.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: up.sh DIR [--owner PID | --fixture]}
owner=""
case "${2:-}" in
  --owner) owner=${3:?--owner needs a pid} ;;
  --fixture) owner=$PPID; "$here/down.sh" "$dir" > /dev/null ;;
  "") ;;
  *) echo "usage: up.sh DIR [--owner PID | --fixture]" >&2; exit 2 ;;
esac

if [[ -e "$dir/pids" ]]; then
  echo "up.sh: $dir already holds a cluster (pids exists); run down.sh $dir first" >&2
  exit 1
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
rc=0
cache=$("$here/build.sh" | tail -n 1) || rc=$?
if ((rc != 0)); then exit "$rc"; fi
bin="$cache/bin"
mkdir -p "$dir/logs" "$dir/pki" "$dir/etcd" "$dir/charts"
: > "$dir/pids"

fail() {
  echo "up.sh: $*" >&2
  for f in "$dir"/logs/*.log; do
    [[ -s "$f" ]] || continue
    echo "--- tail of $f" >&2
    tail -n 15 "$f" >&2
  done
  "$here/down.sh" "$dir" >&2 || true
  exit 1
}
trap 'fail "failed at line $LINENO"' ERR

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Starts NAME in a session of its own (so down.sh can signal its whole process group) and records it.
start() {
  local name=$1
  shift
  setsid "$@" > "$dir/logs/$name.log" 2>&1 < /dev/null &
  echo "$name $!" >> "$dir/pids"
}
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2 started=$SECONDS
  shift 2
  until "$@" > /dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "$what did not come up within $((SECONDS - started)) s"
    # A component that exited will not come up: say so at once, with its log (fail prints the tails).
    local name pid
    while read -r name pid; do
      kill -0 "$pid" 2> /dev/null || fail "$name exited while waiting for $what"
    done < "$dir/pids"
    sleep 0.2
  done
}

# --- PKI: a CA, the API server's serving certificate, the service-account key pair; tokens. ----------
pki="$dir/pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=slipway-test-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" 2> "$dir/logs/openssl.log"
openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$pki/apiserver.key" \
  -out "$pki/apiserver.csr" 2>> "$dir/logs/openssl.log"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc,IP:10.96.0.1\n' > "$pki/san.ext"
openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 2 \
  -extfile "$pki/san.ext" -out "$pki/apiserver.crt" 2>> "$dir/logs/openssl.log"
openssl genrsa -out "$pki/sa.key" 2048 2>> "$dir/logs/openssl.log"
openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>> "$dir/logs/openssl.log"
admin_token=$(openssl rand -hex 16)
viewer_token=$(openssl rand -hex 16)
cat > "$pki/tokens.csv" <<EOF
$admin_token,admin,1,"system:masters"
$viewer_token,viewer,2,"slipway:viewers"
EOF
chmod 600 "$pki"/*.key "$pki/tokens.csv"

# --- etcd and the API server ---------------------------------------------------------------------
etcd_client=$(free_port)
etcd_peer=$(free_port)
while [[ $etcd_peer == "$etcd_client" ]]; do etcd_peer=$(free_port); done
start etcd "$bin/etcd" --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$etcd_client" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer"
wait_for 90 "etcd" grep -q "ready on" "$dir/logs/etcd.log"

api_port=$(free_port)
start kube-apiserver "$bin/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$etcd_client" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" \
  --authorization-mode=Node,RBAC \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range=10.96.0.0/16 \
  --enable-priority-and-fairness=false \
  --profiling=false --v=1

server="https://127.0.0.1:$api_port"
kubeconfig() {  # kubeconfig FILE USER TOKEN
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: slipway-test
  cluster:
    server: $server
    certificate-authority: $pki/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: slipway-test
  context: {cluster: slipway-test, user: $2}
current-context: slipway-test
EOF
  chmod 600 "$1"
}
kubeconfig "$dir/kubeconfig" admin "$admin_token"
kubeconfig "$dir/kubeconfig-viewer" viewer "$viewer_token"
export KUBECONFIG="$dir/kubeconfig" KUBECACHEDIR="$dir/kube-cache"
kubectl=("$bin/kubectl")
wait_for 90 "kube-apiserver" "${kubectl[@]}" get --raw /readyz

# --- controllers, scheduler, kwok ------------------------------------------------------------------
start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig="$dir/kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$(free_port)" --leader-elect=false \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --use-service-account-credentials=false --controllers='*' \
  --concurrent-deployment-syncs=10 --concurrent-replicaset-syncs=10 --horizontal-pod-autoscaler-sync-period=2s --v=1
start kube-scheduler "$bin/kube-scheduler" --kubeconfig="$dir/kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$(free_port)" --leader-elect=false --v=1
start kwok "$bin/kwok" --kubeconfig="$dir/kubeconfig" --config="$cache/kwok/stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --cidr=10.244.0.1/16 --node-ip=10.0.0.1 --node-lease-duration-seconds=40 \
  --server-address=127.0.0.1:"$(free_port)"

"${kubectl[@]}" apply --server-side -f - > "$dir/logs/setup.log" <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok,
           topology.kubernetes.io/zone: zone-a}
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "1000"}
  capacity: {cpu: "64", memory: 256Gi, pods: "1000"}
---
# The viewer may discover and read, nothing more (what a CI deploy token often looks like).
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: slipway-viewers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: Group, name: "slipway:viewers", apiGroup: rbac.authorization.k8s.io}]
EOF
wait_for 60 "the kwok node" "${kubectl[@]}" wait --for=condition=Ready node/kwok-node-0 --timeout=1s
wait_for 60 "the default service account" "${kubectl[@]}" get serviceaccount default -n default

# --- CRDs --------------------------------------------------------------------------------------------
for f in "$cache"/crds/*.yaml; do
  "${kubectl[@]}" apply --server-side -f "$f" >> "$dir/logs/setup.log"
done
"${kubectl[@]}" wait --for=condition=Established crd --all --timeout=60s >> "$dir/logs/setup.log"

# --- the chart repository ----------------------------------------------------------------------------
repo_port=$(free_port)
repo_url="http://127.0.0.1:$repo_port"
mkdir -p "$dir/charts/repo" "$dir/nginx"
export HELM_CACHE_HOME="$dir/helm/cache" HELM_CONFIG_HOME="$dir/helm/config" HELM_DATA_HOME="$dir/helm/data"
for chart in "$here"/charts/*/; do
  "$bin/helm" package "$chart" -d "$dir/charts/repo" >> "$dir/logs/setup.log"
done
# A second version of webapp, so upgrades and rollbacks between chart versions can be tested.
"$bin/helm" package "$here/charts/webapp" --version 0.2.0 --app-version 1.1.0 -d "$dir/charts/repo" >> "$dir/logs/setup.log"
"$bin/helm" repo index "$dir/charts/repo" --url "$repo_url" >> "$dir/logs/setup.log"
cat > "$dir/nginx/nginx.conf" <<EOF
daemon off;
master_process off;  # one process, as the invoking user: the worker of a root master (nobody) may not read a 0700 checkout
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/logs/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log $dir/logs/nginx-access.log;
  client_body_temp_path $dir/nginx/body;
  proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi;
  uwsgi_temp_path $dir/nginx/uwsgi;
  scgi_temp_path $dir/nginx/scgi;
  types { application/x-yaml yaml; application/gzip tgz; }
  server {
    listen 127.0.0.1:$repo_port;
    root $dir/charts/repo;
  }
}
EOF
start nginx nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/logs/nginx-error.log"
wait_for 10 "the chart repository" curl -fsS "$repo_url/index.yaml"

# --- the OCI registry (Debian's docker-registry, distribution 2.8), with webapp pushed by helm ----------
registry=$(command -v docker-registry || true)
[[ -n "$registry" ]] || fail "docker-registry is not installed (packaging/install-deps.sh installs it): the OCI chart tests need it"
oci_port=$(free_port)
mkdir -p "$dir/registry/data"
cat > "$dir/registry/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $dir/registry/data}}
http: {addr: 127.0.0.1:$oci_port}
EOF
start registry "$registry" serve "$dir/registry/config.yml"
wait_for 10 "the OCI registry" curl -fsS "http://127.0.0.1:$oci_port/v2/"
for tgz in "$dir/charts/repo"/webapp-*.tgz; do
  "$bin/helm" push "$tgz" "oci://127.0.0.1:$oci_port/charts" --plain-http >> "$dir/logs/setup.log" 2>&1
done

# --- what the tests read -----------------------------------------------------------------------------
cat > "$dir/cluster.env" <<EOF
KUBECONFIG=$dir/kubeconfig
SLIPWAY_TEST_KUBECONFIG_VIEWER=$dir/kubeconfig-viewer
SLIPWAY_TEST_CLUSTER_BIN=$bin
SLIPWAY_TEST_CLUSTER_CRDS=$cache/crds
SLIPWAY_TEST_CHART_REPO=$repo_url
SLIPWAY_TEST_OCI_REPO=oci://127.0.0.1:$oci_port/charts
SLIPWAY_TEST_API_SERVER=$server
EOF
cp "$cache/versions.txt" "$dir/versions.txt"

if [[ -n "$owner" ]]; then
  # The watchdog: stops the cluster once the owner is gone, whoever forgot to.
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && [[ -e "$2/pids" ]]; do sleep 2; done; exec "$3" "$2"' \
    watchdog "$owner" "$dir" "$here/down.sh" > "$dir/logs/watchdog.log" 2>&1 < /dev/null &
fi
trap - ERR
echo "up.sh: cluster up at $server ($(sed -n 1p "$dir/versions.txt"); $SECONDS s)"
