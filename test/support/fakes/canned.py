#!/usr/bin/env python3
"""Canned outputs of istioctl, linkerd and velero, shaped like the real tools' (versions below). helm has
no fake: the tests run the real helm 4 and 3 (test/cluster/).

Each entry of CANNED is a function of keyword parameters returning {"stdout", "stderr", "exit"}. A fake
tool script entry refers to one by name:
    {"argv": ["version", "-o", "json"], "canned": "istioctl.version_json", "params": {"mesh": false}}
(explicit "stdout"/"stderr"/"exit" in the entry override the canned ones). From a shell:
    python3 canned.py istioctl.version_json mesh:=false     (:= takes a JSON value)
prints the result as JSON; `python3 canned.py --list` lists the names with their first doc line.

Versions imitated: istioctl 1.32.0 (its formats read from the Istio sources of Aug 2026:
pkg/version/cobra.go for `version -o json`, operator/pkg/util/progress for `install`,
istioctl/pkg/analyze for `analyze`; verify-install, removed in 1.24, is gone), linkerd stable-2.14.10,
velero v1.17 (pkg/cmd/cli/backup/create.go: `backup create --wait` exits 0 whatever the phase). Shapes (JSON keys, line
formats, exit codes, stdout vs stderr) follow the real tools; timestamps, git commits and hashes are
fixed, made-up values, so tests can assert exact text.

Catalogue
  istioctl.version_json       `istioctl version -o json` (clientVersion, meshVersion, dataPlaneVersion)
  istioctl.version_text       `istioctl version`
  istioctl.install            `istioctl install -y -f F` success
  istioctl.install_failed     `istioctl install` whose istiod never becomes ready, exit 1
  istioctl.uninstall_purge    `istioctl uninstall --purge -y`
  istioctl.analyze            `istioctl analyze -n NS` (no issues, or the given ones; exit 79 at Error)
  linkerd.version_client_short  `linkerd version --client --short`
  linkerd.version             `linkerd version`
  linkerd.install_crds        `linkerd install --crds` (CRD YAML on stdout, valid for the real apiserver)
  linkerd.install             `linkerd install --identity-trust-anchors-file ...` (control plane YAML)
  linkerd.install_needs_crds  `linkerd install` before the CRDs exist, exit 1
  linkerd.check               `linkerd check` success, exit 0
  linkerd.check_failed        `linkerd check` with the control plane missing, exit 1
  linkerd.check_pre           `linkerd check --pre` success
  linkerd.check_json          `linkerd check -o json` (success or failure, by param)
  linkerd.uninstall           `linkerd uninstall` (YAML of what to delete)
  velero.version_client       `velero version --client-only`
  velero.backup_create        `velero backup create NAME ... --wait` (exit 0 even when the phase is Failed)
  velero.backup_get           `velero backup get NAME` (the table; exit 1 when it does not exist)
"""

import json
import sys

ISTIO_VERSION = "1.32.0"
ISTIO_REVISION = "2d6c6b3a8e3b2ae37ab1d7e5d2b2de1f1b2a0c4f"  # made up
LINKERD_VERSION = "stable-2.14.10"
VELERO_VERSION = "v1.17.1"


def out(stdout="", stderr="", exit=0):
    return {"stdout": stdout, "stderr": stderr, "exit": exit}


def dumps_go(obj):
    """json.MarshalIndent(obj, "", "  ") as Go prints it (no space before colons, 2-space indent)."""
    return json.dumps(obj, indent=2, ensure_ascii=False)


# -- istioctl --------------------------------------------------------------------------------------------

def _istio_build():
    return {"version": ISTIO_VERSION, "revision": ISTIO_REVISION, "golang_version": "go1.25.5",
            "status": "Clean", "tag": ISTIO_VERSION}


def istioctl_version_json(mesh=True, revision="default", proxies=0):
    """`istioctl version -o json`; mesh=False when no control plane is installed."""
    version = {"clientVersion": _istio_build()}
    if mesh:
        version["meshVersion"] = [{"Component": "istiod", "Revision": revision, "Info": _istio_build()}]
        version["dataPlaneVersion"] = [{"ID": "web-%d.shop" % i, "IstioVersion": ISTIO_VERSION}
                                       for i in range(proxies)]
    return out(dumps_go(version) + "\n")


def istioctl_version_text(mesh=True, proxies=0):
    """`istioctl version`."""
    text = "client version: %s\n" % ISTIO_VERSION
    if mesh:
        text += "control plane version: %s\n" % ISTIO_VERSION
        text += "data plane version: %s (%d proxies)\n" % (ISTIO_VERSION, proxies) if proxies else \
            "data plane version: none\n"
    else:
        text += "control plane version: no running Istio pods in \"istio-system\"\n"
    return out(text)


def istioctl_install(egress=False):
    """`istioctl install -y -f F`: progress and result on stdout."""
    lines = ["\u2714 Istio core installed", "\u2714 Istiod installed"]
    if egress:
        lines.append("\u2714 Egress gateways installed")
    lines += ["\u2714 Ingress gateways installed", "\u2714 Installation complete",
              "Made this installation the default for injection and validation."]
    return out("\n".join(lines) + "\n")


def istioctl_install_failed():
    """`istioctl install` whose istiod never becomes ready."""
    stdout = ("\u2714 Istio core installed\n"
              "\u2718 Istiod encountered an error: failed to wait for resource: resources not ready after 5m0s: "
              "context deadline exceeded\n"
              "  Deployment/istio-system/istiod (container failed to start: ImagePullBackOff: Back-off pulling "
              "image \"docker.io/istio/pilot:%s\")\n" % ISTIO_VERSION)
    stderr = ("Error: failed to install manifests: errors occurred during operation: failed to wait for resource: "
              "resources not ready after 5m0s: context deadline exceeded\n")
    return out(stdout, stderr, 1)


def istioctl_uninstall_purge():
    """`istioctl uninstall --purge -y`."""
    removed = ["HorizontalPodAutoscaler:istio-system:istiod", "PodDisruptionBudget:istio-system:istiod",
               "Deployment:istio-system:istiod", "Deployment:istio-system:istio-ingressgateway",
               "Service:istio-system:istiod", "Service:istio-system:istio-ingressgateway",
               "ConfigMap:istio-system:istio", "ServiceAccount:istio-system:istiod",
               "MutatingWebhookConfiguration::istio-sidecar-injector",
               "ValidatingWebhookConfiguration::istio-validator-istio-system",
               "ClusterRole::istiod-clusterrole-istio-system", "ClusterRoleBinding::istiod-clusterrole-istio-system",
               "CustomResourceDefinition::destinationrules.networking.istio.io",
               "CustomResourceDefinition::virtualservices.networking.istio.io",
               "CustomResourceDefinition::peerauthentications.security.istio.io"]
    lines = ["All Istio resources will be pruned from the cluster"]
    lines += ["  Removed %s." % r for r in removed]
    lines.append("\u2714 Uninstall complete")
    return out("\n".join(lines) + "\n")


def istioctl_analyze(namespace="default", issues=None):
    """`istioctl analyze -n NS [--failure-threshold Error]`; issues: [[level, code, resource, message]].

    istioctl prints each message on stdout; when one is at the failure threshold (Error by default) it
    also prints the error on stderr and exits 79 (istioctl's AnalyzerFoundIssuesError)."""
    where = "namespace: %s" % namespace
    if not issues:
        return out("\u2714 No validation issues found when analyzing %s.\n" % where)
    text = "".join("%s [%s] (%s) %s\n" % tuple(i) for i in issues)
    if not any(i[0] == "Error" for i in issues):
        return out(text)
    stderr = ("Error: Analyzers found issues when analyzing %s.\nSee https://istio.io/v%s/docs/reference/config/"
              "analysis for more information about causes and resolutions.\n" % (where, ISTIO_VERSION.rsplit(".", 1)[0]))
    return out(text, stderr, 79)


# -- linkerd ---------------------------------------------------------------------------------------------

def linkerd_version_client_short():
    """`linkerd version --client --short`."""
    return out(LINKERD_VERSION + "\n")


def linkerd_version(server=True):
    """`linkerd version`."""
    text = "Client version: %s\n" % LINKERD_VERSION
    text += "Server version: %s\n" % (LINKERD_VERSION if server else "unavailable")
    return out(text)


def _crd(plural, group, kind, short, versions, scope="Namespaced"):
    lines = ["---", "# Source: linkerd-crds/templates/%s.yaml" % plural.split(".")[0],
             "apiVersion: apiextensions.k8s.io/v1", "kind: CustomResourceDefinition", "metadata:",
             "  name: %s.%s" % (plural, group), "  annotations:",
             "    linkerd.io/created-by: linkerd/cli %s" % LINKERD_VERSION, "  labels:",
             "    helm.sh/chart: linkerd-crds-1.8.0", "    linkerd.io/control-plane-ns: linkerd", "spec:",
             "  group: %s" % group, "  names:", "    kind: %s" % kind, "    plural: %s" % plural,
             "    singular: %s" % kind.lower(), "    shortNames:", "    - %s" % short,
             "  scope: %s" % scope, "  versions:"]
    for i, version in enumerate(versions):
        lines += ["  - name: %s" % version, "    served: true", "    storage: %s" % str(i == len(versions) - 1).lower(),
                  "    schema:", "      openAPIV3Schema:", "        type: object",
                  "        x-kubernetes-preserve-unknown-fields: true"]
    return "\n".join(lines) + "\n"


def linkerd_install_crds():
    """`linkerd install --crds`: a reduced but valid set of the CRDs linkerd installs."""
    return out(_crd("serviceprofiles", "linkerd.io", "ServiceProfile", "sp", ["v1alpha1", "v1alpha2"])
               + _crd("servers", "policy.linkerd.io", "Server", "srv", ["v1beta1", "v1beta2"])
               + _crd("authorizationpolicies", "policy.linkerd.io", "AuthorizationPolicy", "authzpolicy",
                      ["v1alpha1"])
               + _crd("meshtlsauthentications", "policy.linkerd.io", "MeshTLSAuthentication", "meshtlsauthn",
                      ["v1alpha1"]))


def _deployment(name, component):
    return "\n".join([
        "---", "# Source: linkerd-control-plane/templates/%s.yaml" % component,
        "apiVersion: apps/v1", "kind: Deployment", "metadata:", "  name: %s" % name, "  namespace: linkerd",
        "  labels:", "    app.kubernetes.io/name: %s" % component, "    app.kubernetes.io/part-of: Linkerd",
        "    app.kubernetes.io/version: %s" % LINKERD_VERSION, "    linkerd.io/control-plane-component: %s" % component,
        "    linkerd.io/control-plane-ns: linkerd", "spec:", "  replicas: 1", "  selector:", "    matchLabels:",
        "      linkerd.io/control-plane-component: %s" % component, "  template:", "    metadata:",
        "      labels:", "        linkerd.io/control-plane-component: %s" % component, "    spec:",
        "      serviceAccountName: linkerd-%s" % component, "      containers:", "      - name: %s" % component,
        "        image: cr.l5d.io/linkerd/controller:%s" % LINKERD_VERSION]) + "\n"


def linkerd_install():
    """`linkerd install --identity-trust-anchors-file ca.crt --identity-issuer-certificate-file issuer.crt
    --identity-issuer-key-file issuer.key`: a reduced but valid control plane manifest."""
    text = "\n".join([
        "---", "# Source: linkerd-control-plane/templates/namespace.yaml", "apiVersion: v1", "kind: Namespace",
        "metadata:", "  name: linkerd", "  annotations:", "    linkerd.io/inject: disabled", "  labels:",
        "    linkerd.io/is-control-plane: \"true\"", "    config.linkerd.io/admission-webhooks: disabled",
        "    linkerd.io/control-plane-ns: linkerd", "    pod-security.kubernetes.io/enforce: privileged",
        "---", "# Source: linkerd-control-plane/templates/config.yaml", "apiVersion: v1", "kind: ConfigMap",
        "metadata:", "  name: linkerd-config", "  namespace: linkerd", "  labels:",
        "    linkerd.io/control-plane-component: controller", "    linkerd.io/control-plane-ns: linkerd",
        "data:", "  values: |", "    controllerImage: cr.l5d.io/linkerd/controller",
        "    linkerdVersion: %s" % LINKERD_VERSION, "    identityTrustDomain: cluster.local",
        "---", "# Source: linkerd-control-plane/templates/identity.yaml", "apiVersion: v1", "kind: Secret",
        "metadata:", "  name: linkerd-identity-issuer", "  namespace: linkerd", "  labels:",
        "    linkerd.io/control-plane-component: identity", "    linkerd.io/control-plane-ns: linkerd",
        "type: kubernetes.io/tls", "data:", "  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
        "  tls.key: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCg==",
    ]) + "\n"
    for component in ("identity", "destination", "proxy-injector"):
        text += "\n".join(["---", "apiVersion: v1", "kind: ServiceAccount", "metadata:",
                           "  name: linkerd-%s" % component, "  namespace: linkerd"]) + "\n"
        text += _deployment("linkerd-%s" % component, component)
    return out(text)


def linkerd_install_needs_crds():
    """`linkerd install` before `linkerd install --crds` was applied."""
    return out(stderr="Linkerd CRDs must be installed first. Run linkerd install with the --crds flag.\n", exit=1)


LINKERD_CHECKS = [
    ("kubernetes-api", ["can initialize the client", "can query the Kubernetes API"]),
    ("kubernetes-version", ["is running the minimum Kubernetes API version"]),
    ("linkerd-existence", ["'linkerd-config' config map exists", "heartbeat ServiceAccount exist",
                           "control plane replica sets are ready", "no unschedulable pods",
                           "control plane pods are ready", "cluster networks contains all pods",
                           "cluster networks contains all services"]),
    ("linkerd-config", ["control plane Namespace exists", "control plane ClusterRoles exist",
                        "control plane ClusterRoleBindings exist", "control plane ServiceAccounts exist",
                        "control plane CustomResourceDefinitions exist",
                        "control plane MutatingWebhookConfigurations exist",
                        "control plane ValidatingWebhookConfigurations exist",
                        "proxy-init container runs as root user if docker container runtime is used"]),
    ("linkerd-identity", ["certificate config is valid", "trust anchors are using supported crypto algorithm",
                          "trust anchors are within their validity period",
                          "trust anchors are valid for at least 60 days",
                          "issuer cert is using supported crypto algorithm",
                          "issuer cert is within its validity period", "issuer cert is valid for at least 60 days",
                          "issuer cert is issued by the trust anchor"]),
    ("linkerd-webhooks-and-apisvc-tls", ["proxy-injector webhook has valid cert",
                                         "proxy-injector cert is valid for at least 60 days",
                                         "sp-validator webhook has valid cert",
                                         "sp-validator cert is valid for at least 60 days",
                                         "policy-validator webhook has valid cert",
                                         "policy-validator cert is valid for at least 60 days"]),
    ("control-plane-version", ["can retrieve the control plane version", "control plane is up-to-date",
                               "control plane and cli versions match"]),
    ("linkerd-control-plane-proxy", ["control plane proxies are healthy", "control plane proxies are up-to-date",
                                     "control plane proxies and cli versions match"]),
]

LINKERD_PRE_CHECKS = [
    ("kubernetes-api", ["can initialize the client", "can query the Kubernetes API"]),
    ("kubernetes-version", ["is running the minimum Kubernetes API version"]),
    ("pre-kubernetes-setup", ["control plane namespace does not already exist", "can create non-namespaced resources",
                              "can create ServiceAccounts", "can create Services", "can create Deployments",
                              "can create CronJobs", "can create ConfigMaps", "can create Secrets",
                              "can read Secrets", "can read extension-apiserver-authentication configmap",
                              "no clock skew detected"]),
    ("linkerd-version", ["can determine the latest version", "cli is up-to-date"]),
]

# The failure linkerd check reports when the control plane is not there.
LINKERD_MISSING_CONFIG = ("linkerd-existence", "'linkerd-config' config map exists",
                          'configmaps "linkerd-config" not found',
                          "https://linkerd.io/2.14/checks/#l5d-existence-linkerd-config")


def _check_text(categories, failure=None):
    blocks = []
    for name, checks in categories:
        lines = [name, "-" * len(name)]
        for check in checks:
            if failure and (name, check) == failure[:2]:
                lines += ["\u00d7 %s" % check, "    %s" % failure[2], "    see %s for hints" % failure[3]]
                blocks.append("\n".join(lines) + "\n")
                return "\n".join(blocks) + "\nStatus check results are \u00d7\n"
            lines.append("\u221a %s" % check)
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks) + "\nStatus check results are \u221a\n"


def linkerd_check():
    """`linkerd check` with a healthy control plane."""
    return out(_check_text(LINKERD_CHECKS))


def linkerd_check_failed():
    """`linkerd check` when the control plane is not installed: stops at the first failed check, exit 1."""
    return out(_check_text(LINKERD_CHECKS, LINKERD_MISSING_CONFIG), exit=1)


def linkerd_check_pre():
    """`linkerd check --pre` on a cluster ready for linkerd."""
    return out(_check_text(LINKERD_PRE_CHECKS))


def linkerd_check_json(success=True):
    """`linkerd check -o json`."""
    categories = []
    for name, checks in LINKERD_CHECKS:
        entries = []
        for check in checks:
            if not success and (name, check) == LINKERD_MISSING_CONFIG[:2]:
                entries.append({"description": check, "hint": LINKERD_MISSING_CONFIG[3],
                                "error": LINKERD_MISSING_CONFIG[2], "result": "error"})
                break
            entries.append({"description": check, "result": "success"})
        categories.append({"categoryName": name, "checks": entries})
        if entries and entries[-1]["result"] == "error":
            break
    return out(dumps_go({"success": success, "categories": categories}) + "\n", exit=0 if success else 1)


def linkerd_uninstall():
    """`linkerd uninstall`: the YAML of everything to delete (piped into kubectl delete -f -)."""
    text = "\n".join(["apiVersion: v1", "kind: Namespace", "metadata:", "  name: linkerd", "---",
                      "apiVersion: apiextensions.k8s.io/v1", "kind: CustomResourceDefinition", "metadata:",
                      "  name: serviceprofiles.linkerd.io"]) + "\n"
    return out(text)


# -- velero ----------------------------------------------------------------------------------------------

def velero_version_client():
    """`velero version --client-only`."""
    return out("Client:\n\tVersion: %s\n\tGit commit: 4a2b4c1e0d7f8e9a6b5c4d3e2f1a0b9c8d7e6f5a\n" % VELERO_VERSION)


def velero_backup_create(name="backup", phase="Completed"):
    """`velero backup create NAME --wait`: exit 0 whatever the phase (Completed, PartiallyFailed, Failed)."""
    return out("Backup request \"%s\" submitted successfully.\n"
               "Waiting for backup to complete. You may safely press ctrl-c to stop waiting - your backup will "
               "continue in the background.\n...\n"
               "Backup completed with status: %s. You may check for more information using the commands "
               "`velero backup describe %s` and `velero backup logs %s`.\n" % (name, phase, name, name))


def velero_backup_get(name="backup", phase="Completed", exists=True):
    """`velero backup get NAME`: the table, or `An error occurred: backups.velero.io "NAME" not found`."""
    if not exists:
        return out(stderr="An error occurred: backups.velero.io \"%s\" not found\n" % name, exit=1)
    errors = 0 if phase == "Completed" else 1
    return out("NAME%s   STATUS      ERRORS   WARNINGS   CREATED                         EXPIRES   STORAGE LOCATION   SELECTOR\n"
               "%s   %-10s  %d        0          2026-12-01 12:00:00 +0000 UTC   29d       default            <none>\n"
               % (" " * max(0, len(name) - 4), name, phase, errors))


CANNED = {
    "istioctl.version_json": istioctl_version_json,
    "istioctl.version_text": istioctl_version_text,
    "istioctl.install": istioctl_install,
    "istioctl.install_failed": istioctl_install_failed,
    "istioctl.uninstall_purge": istioctl_uninstall_purge,
    "istioctl.analyze": istioctl_analyze,
    "linkerd.version_client_short": linkerd_version_client_short,
    "linkerd.version": linkerd_version,
    "linkerd.install_crds": linkerd_install_crds,
    "linkerd.install": linkerd_install,
    "linkerd.install_needs_crds": linkerd_install_needs_crds,
    "linkerd.check": linkerd_check,
    "linkerd.check_failed": linkerd_check_failed,
    "linkerd.check_pre": linkerd_check_pre,
    "linkerd.check_json": linkerd_check_json,
    "linkerd.uninstall": linkerd_uninstall,
    "velero.version_client": velero_version_client,
    "velero.backup_create": velero_backup_create,
    "velero.backup_get": velero_backup_get,
}


def render(name, params=None):
    """The canned output `name` with params; KeyError names the unknown entry, TypeError a bad param."""
    if name not in CANNED:
        raise KeyError("unknown canned output %r (see canned.py --list)" % name)
    return CANNED[name](**(params or {}))


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[1] == "--list":
        for name, fn in CANNED.items():
            print("%-32s %s" % (name, (fn.__doc__ or "").strip().splitlines()[0]))
        return 0
    params = {}
    for arg in argv[2:]:
        if ":=" in arg:
            key, value = arg.split(":=", 1)
            params[key] = json.loads(value)
        else:
            key, value = arg.split("=", 1)
            params[key] = value
    print(json.dumps(render(argv[1], params), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
