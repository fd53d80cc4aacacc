#!/usr/bin/env bash
# Builds the test cluster's real components from their published Go modules, once, into a cache keyed
# by what they are built from (versions.env, go.mod, go.sum, the etcd main and this script):
#   bin/   etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm (4) helm3
#   crds/  gateway-api (standard channel), istio, monitoring.coreos.com (Prometheus Operator)
#   kwok/  the stage configuration kwok runs with (kwok's own "fast" stages: nodes Ready, pods Ready)
# GOMODCACHE and GOCACHE are Go's own (persisted by the caller), so a rebuild after a version bump only
# compiles what changed. Prints the cache directory on its last line.
#   test/cluster/build.sh            build if needed, print the directory
#   test/cluster/build.sh --print    print the directory only (exit 1 when it is not built)
# Needs Go >= 1.26 (what k8s.io/kubernetes v1.36 declares). Without it, says so and exits 3: the suites
# labelled `cluster` cannot run (ctest -LE cluster runs the others).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

key=$(cat "$here/versions.env" "$here/go.mod" "$here/go.sum" "$here/etcd/main.go" "$here/build.sh" | sha256sum | cut -c1-16)
cache_root=${SLIPWAY_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway/test-cluster}
out="$cache_root/$key"

if [[ -f "$out/.complete" ]]; then
  echo "$out"
  exit 0
fi
if [[ "${1:-}" == "--print" ]]; then
  echo "test cluster not built yet (run test/cluster/build.sh)" >&2
  exit 1
fi

need_go="1.26"
if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: Go >= $need_go is not installed, so the real test cluster (kube-apiserver, etcd, kwok, kubectl," >&2
  echo "  helm 3 and 4) cannot be built and the ctest suites labelled 'cluster' cannot run. Debian 12's golang" >&2
  echo "  package is too old; install Go >= $need_go, or run the other suites with: ctest -LE cluster" >&2
  exit 3
fi
have_go=$(go env GOVERSION | sed 's/^go//')
if [[ "$(printf '%s\n%s\n' "$need_go" "$have_go" | sort -V | head -1)" != "$need_go" ]]; then
  echo "build.sh: Go $have_go is older than $need_go (k8s.io/kubernetes $KUBE_VERSION needs it); the ctest suites" >&2
  echo "  labelled 'cluster' cannot run. Install Go >= $need_go, or run the others with: ctest -LE cluster" >&2
  exit 3
fi

tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/crds" "$tmp/kwok"
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0 GOFLAGS=-trimpath GOTOOLCHAIN=local
started=$SECONDS
step() { echo "build.sh: $* ($((SECONDS - started)) s)" >&2; }

# 1. The control plane, kubectl and etcd, from the wrapper module (one go build: shared packages compile once).
kube_minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
ld="-s -w"
for kv in "gitVersion=$KUBE_VERSION" "gitMajor=1" "gitMinor=$kube_minor" "gitTreeState=clean" \
          "buildDate=1970-01-01T00:00:00Z"; do
  ld+=" -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
done
step "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $KUBE_VERSION and etcd"
(cd "$here" && go build -ldflags "$ld" -o "$tmp/bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl ./etcd)

# 2. kwok and both helm majors, each from its own module at the pinned version (their go.mod pin the rest).
step "building kwok $KWOK_VERSION"
GOBIN="$tmp/bin" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
step "building helm $HELM4_VERSION"
GOBIN="$tmp/bin" go install -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION" \
  "helm.sh/helm/v4/cmd/helm@$HELM4_VERSION"
step "building helm $HELM3_VERSION"
mkdir -p "$tmp/helm3"
GOBIN="$tmp/helm3" go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM3_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM3_VERSION"
mv "$tmp/helm3/helm" "$tmp/bin/helm3"
rmdir "$tmp/helm3"

# 3. CRDs and kwok's stages, taken from the modules' own files.
moddir() { go mod download -json "$1@$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }
step "collecting CRDs and kwok stages"
gw=$(moddir sigs.k8s.io/gateway-api "$GATEWAY_API_VERSION")
cp "$gw"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$tmp/crds/"
# The safe-upgrades ValidatingAdmissionPolicy of the standard channel is not a CRD; clusters apply it apart.
rm -f "$tmp/crds/gateway.networking.k8s.io_vap_safeupgrades.yaml"
istio=$(moddir istio.io/api "$ISTIO_API_VERSION")
cp "$istio/kubernetes/customresourcedefinitions.gen.yaml" "$tmp/crds/istio.io_crds.yaml"
po=$(moddir github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")
cp "$po"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml "$tmp/crds/"
kwok=$(moddir sigs.k8s.io/kwok "$KWOK_VERSION")
for f in "$kwok"/kustomize/stage/node/fast/node-initialize.yaml "$kwok"/kustomize/stage/node/heartbeat-with-lease/*.yaml \
         "$kwok"/kustomize/stage/pod/fast/pod-ready.yaml "$kwok"/kustomize/stage/pod/fast/pod-complete.yaml \
         "$kwok"/kustomize/stage/pod/fast/pod-delete.yaml; do
  [[ "$f" == *kustomization.yaml ]] && continue
  printf -- '---\n' >> "$tmp/kwok/stages.yaml"
  cat "$f" >> "$tmp/kwok/stages.yaml"
done
chmod -R u+w "$tmp"

cat > "$tmp/versions.txt" <<EOF
kubernetes $KUBE_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)
etcd $(cd "$here" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
kwok $KWOK_VERSION
helm $HELM4_VERSION
helm3 $HELM3_VERSION
gateway-api $GATEWAY_API_VERSION
istio-api $ISTIO_API_VERSION
prometheus-operator $PROMETHEUS_OPERATOR_VERSION
EOF
touch "$tmp/.complete"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
step "done: $out"
echo "$out"
