#!/usr/bin/env python3
"""A small in-memory Kubernetes API server for slipway's tests (Python 3 standard library only).

The real kubectl (v1.32) talks to it over plain HTTP, so tests exercise kubectl's real argv handling,
output and error messages without a cluster.

Usage:
    python3 kube_api_server.py --port 0 --port-file F [--state-dump F] [--unauthorized]
Listens on 127.0.0.1, writes the chosen port to F (atomically) once listening, exits on SIGTERM/SIGINT
(writing every stored object as JSON to --state-dump first, if given). --unauthorized answers every API
request with 401, as a cluster does for bad credentials (kubectl: "You must be logged in to the server").
There is no real authentication: kubectl sends kubeconfig credentials only over TLS, never to this server.

Supported
  * /version, /readyz, /livez, /healthz (with ?verbose), aggregated discovery (apidiscovery.k8s.io/v2,
    what kubectl 1.32 asks for) and the legacy /api, /api/v1, /apis, /apis/G, /apis/G/V documents.
  * OpenAPI v3: /openapi/v3 and one document per group-version that declares, for every kind, the PATCH
    operation with its query parameters. That is what kubectl's field-validation check reads; with it
    kubectl sends fieldValidation=Strict and needs no schema. /openapi/v2 answers 404 (kubectl copes).
  * The built-in resources and CRD kinds in BUILTIN_TYPES below, plus any kind declared by a
    CustomResourceDefinition created through the API (served once the CRD exists, gone when it is deleted).
  * Verbs: get, list, watch, create (POST), update (PUT), patch, delete, deletecollection.
    Patch types: application/apply-patch+yaml (server-side apply; the body must be JSON, as kubectl
    sends), application/merge-patch+json, application/strategic-merge-patch+json (a merge patch that
    also merges the usual keyed lists: containers, env, ports, volumes, ...), application/json-patch+json.
  * Server-side apply: create-or-merge, managedFields per manager (operation Apply/Update), fields a
    manager stops applying are removed, conflicts with other managers are 409 unless force=true.
    Lists are atomic (owned as a whole), unlike the real server's keyed list merging.
  * dryRun=All on every mutating verb (the would-be object is returned, nothing is stored).
  * labelSelector (=, ==, !=, in, notin, exists, !exists), fieldSelector (=, ==, != on any dotted path,
    e.g. metadata.name, metadata.namespace, status.phase), limit is ignored (no continue tokens).
  * watch: ?watch=true with or without resourceVersion (events after it, else ADDED for every current
    object first), sendInitialEvents, timeoutSeconds; the stream stays open until the client goes away.
  * metadata: uid, resourceVersion (global counter), creationTimestamp, generation (bumped when anything
    outside metadata and status changes), generateName; namespace deletion deletes its objects at once.
  * Simulated controllers: Deployments, StatefulSets, DaemonSets report a finished rollout, Jobs complete,
    Pods run and are Ready, CRDs are Established, Services get a cluster IP (LoadBalancer: 127.0.0.1).
    Annotation or label  slipway.test/stuck: "true"  keeps a workload unavailable (Job: never completes,
    Pod: Pending); slipway.test/failed: "true" makes a Deployment exceed its progress deadline and a Job
    fail. Pod logs (GET .../pods/NAME/log) return the pod's annotation slipway.test/log.
  * Tables (kubectl's human-readable `get`): Name + Age columns (plus a few kind-specific ones).
  * Subresources: status (get/update/patch), scale (Deployments, StatefulSets, ReplicaSets), pods/log.
  * Errors are Status objects shaped like the real server's (NotFound, AlreadyExists, Conflict, Invalid,
    BadRequest, MethodNotAllowed, Unauthorized), so kubectl prints its real messages.
  * Request bodies are JSON, except that kubectl 1.32's typed clients send protobuf: decoded here for
    Namespace, ConfigMap, Secret, ServiceAccount and SelfSubjectAccessReview (kubectl create namespace|
    configmap|secret|serviceaccount, kubectl auth can-i, which is always "yes"); other protobuf kinds get
    a 415 that says to send JSON. Responses are always JSON (client-go decodes by Content-Type).
  * Seeded at start: namespaces default, kube-system, kube-public, kube-node-lease and one Ready node.

Test control endpoints (no auth):
  GET  /_test/objects            every stored object (a JSON list, sorted by group, kind, namespace, name)
  GET  /_test/requests           the request log: [{method, path, query, content_type, user_agent, status,
                                 body (mutating requests only)}], in arrival order
  POST /_test/fail               inject a fault: {"verb": "PATCH"|"patch"|..., "resource": "configmaps",
                                 "name": optional, "namespace": optional, "path": optional path prefix,
                                 "code": 500, "message": optional, "times": 1 (-1 = forever)}
  DELETE /_test/fail             clear every fault
  POST /_test/reset-requests     clear the request log

Not supported: TLS and authentication (see --unauthorized), authorization, admission webhooks, protobuf
beyond the kinds above, tables beyond a few columns, pagination (continue), resourceVersionMatch,
conversion between versions (an object is served as stored, with apiVersion rewritten), keyed-list field
ownership in server-side apply, ReplicaSets/Pods created by workload controllers (so kubectl logs
deploy/x, rollout history/undo find nothing), garbage collection by ownerReferences, finalizers, default
ServiceAccounts and kube-root-ca.crt ConfigMaps per namespace, /openapi/v2 and schema-based
kubectl explain (it answers 'field "x" does not exist'), exec/attach/port-forward/proxy, metrics,
recorded Events, watch bookmarks other than the initial-events-end one.
"""

import argparse
import base64
import copy
import hashlib
import json
import os
import random
import select
import signal
import socket
import string
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "59526cd4867447956156ae3a602fcbac5a2ee0bd",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:02:27Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}

STUCK_KEY = "slipway.test/stuck"
FAILED_KEY = "slipway.test/failed"
LOG_KEY = "slipway.test/log"

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"], "log": ["get"]}
SUBRESOURCE_KINDS = {"status": None, "scale": ("autoscaling", "v1", "Scale"), "log": ("", "v1", "Pod")}

# group, versions (preferred first), kind, plural, namespaced, short names, subresources, categories.
# generation: whether metadata.generation is maintained (kinds with a spec that a controller observes).
BUILTIN_TYPES = [
    dict(group="", kind="Namespace", plural="namespaces", namespaced=False, short=["ns"], sub=["status"]),
    dict(group="", kind="ConfigMap", plural="configmaps", short=["cm"]),
    dict(group="", kind="Secret", plural="secrets"),
    dict(group="", kind="Service", plural="services", short=["svc"], sub=["status"], cat=["all"]),
    dict(group="", kind="ServiceAccount", plural="serviceaccounts", short=["sa"]),
    dict(group="", kind="Pod", plural="pods", short=["po"], sub=["status", "log"], cat=["all"]),
    dict(group="", kind="Node", plural="nodes", namespaced=False, short=["no"], sub=["status"]),
    dict(group="", kind="PersistentVolumeClaim", plural="persistentvolumeclaims", short=["pvc"], sub=["status"]),
    dict(group="", kind="Endpoints", plural="endpoints", short=["ep"]),
    dict(group="", kind="Event", plural="events", short=["ev"]),
    dict(group="apps", kind="Deployment", plural="deployments", short=["deploy"], sub=["status", "scale"],
         cat=["all"], generation=True),
    dict(group="apps", kind="StatefulSet", plural="statefulsets", short=["sts"], sub=["status", "scale"],
         cat=["all"], generation=True),
    dict(group="apps", kind="DaemonSet", plural="daemonsets", short=["ds"], sub=["status"], cat=["all"],
         generation=True),
    dict(group="apps", kind="ReplicaSet", plural="replicasets", short=["rs"], sub=["status", "scale"],
         cat=["all"], generation=True),
    dict(group="batch", kind="Job", plural="jobs", sub=["status"], cat=["all"], generation=True),
    dict(group="batch", kind="CronJob", plural="cronjobs", short=["cj"], sub=["status"], cat=["all"],
         generation=True),
    dict(group="autoscaling", versions=["v2"], kind="HorizontalPodAutoscaler", plural="horizontalpodautoscalers",
         short=["hpa"], sub=["status"], cat=["all"], generation=True),
    dict(group="policy", kind="PodDisruptionBudget", plural="poddisruptionbudgets", short=["pdb"], sub=["status"],
         generation=True),
    dict(group="networking.k8s.io", kind="Ingress", plural="ingresses", short=["ing"], sub=["status"],
         generation=True),
    dict(group="networking.k8s.io", kind="NetworkPolicy", plural="networkpolicies", short=["netpol"],
         generation=True),
    dict(group="networking.k8s.io", kind="IngressClass", plural="ingressclasses", namespaced=False),
    dict(group="rbac.authorization.k8s.io", kind="ClusterRole", plural="clusterroles", namespaced=False),
    dict(group="rbac.authorization.k8s.io", kind="ClusterRoleBinding", plural="clusterrolebindings",
         namespaced=False),
    dict(group="rbac.authorization.k8s.io", kind="Role", plural="roles"),
    dict(group="rbac.authorization.k8s.io", kind="RoleBinding", plural="rolebindings"),
    dict(group="admissionregistration.k8s.io", kind="MutatingWebhookConfiguration",
         plural="mutatingwebhookconfigurations", namespaced=False, generation=True),
    dict(group="admissionregistration.k8s.io", kind="ValidatingWebhookConfiguration",
         plural="validatingwebhookconfigurations", namespaced=False, generation=True),
    dict(group="apiextensions.k8s.io", kind="CustomResourceDefinition", plural="customresourcedefinitions",
         namespaced=False, short=["crd", "crds"], sub=["status"], cat=["api-extensions"], generation=True),
    dict(group="authorization.k8s.io", kind="SelfSubjectAccessReview", plural="selfsubjectaccessreviews",
         namespaced=False, verbs=["create"]),
    dict(group="storage.k8s.io", kind="StorageClass", plural="storageclasses", namespaced=False, short=["sc"]),
    # Kinds that CRDs add in a real cluster; served from the start so manifests apply without the CRDs.
    dict(group="networking.istio.io", versions=["v1", "v1beta1", "v1alpha3"], kind="DestinationRule",
         plural="destinationrules", short=["dr"], sub=["status"], cat=["istio-io", "networking-istio-io"], crd=True),
    dict(group="networking.istio.io", versions=["v1", "v1beta1", "v1alpha3"], kind="VirtualService",
         plural="virtualservices", short=["vs"], sub=["status"], cat=["istio-io", "networking-istio-io"], crd=True),
    dict(group="networking.istio.io", versions=["v1", "v1beta1", "v1alpha3"], kind="Gateway",
         plural="gateways", short=["gw"], sub=["status"], cat=["istio-io", "networking-istio-io"], crd=True),
    dict(group="networking.istio.io", versions=["v1", "v1beta1", "v1alpha3"], kind="ServiceEntry",
         plural="serviceentries", short=["se"], sub=["status"], cat=["istio-io", "networking-istio-io"], crd=True),
    dict(group="security.istio.io", versions=["v1", "v1beta1"], kind="PeerAuthentication",
         plural="peerauthentications", short=["pa"], sub=["status"], cat=["istio-io", "security-istio-io"],
         crd=True),
    dict(group="security.istio.io", versions=["v1", "v1beta1"], kind="AuthorizationPolicy",
         plural="authorizationpolicies", short=["ap"], sub=["status"], cat=["istio-io", "security-istio-io"],
         crd=True),
    dict(group="linkerd.io", versions=["v1alpha2"], kind="ServiceProfile", plural="serviceprofiles", short=["sp"],
         crd=True),
    dict(group="monitoring.coreos.com", kind="PrometheusRule", plural="prometheusrules", short=["promrule"],
         cat=["prometheus-operator"], crd=True),
    dict(group="monitoring.coreos.com", kind="ServiceMonitor", plural="servicemonitors", short=["smon"],
         cat=["prometheus-operator"], crd=True),
    dict(group="install.istio.io", versions=["v1alpha1"], kind="IstioOperator", plural="istiooperators",
         short=["iop", "io"], sub=["status"], crd=True),
]

# Merge keys of the keyed lists a strategic merge patch merges element-wise (the rest are replaced).
STRATEGIC_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "imagePullSecrets": "name", "conditions": "type",
    "hostAliases": "ip", "volumeDevices": "devicePath",
}

# Metadata the server owns; it is never part of a manager's field set and never taken from a client.
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds")

MISSING = object()


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None


def human_age(created):
    """kubectl's HumanDuration for the Age column."""
    then = parse_time(created)
    if then is None:
        return "<unknown>"
    secs = max(0, int((datetime.now(timezone.utc) - then).total_seconds()))
    if secs < 120:
        return "%ds" % secs
    mins = secs // 60
    if mins < 10:
        return "%dm%ds" % (mins, secs % 60)
    if mins < 180:
        return "%dm" % mins
    hours = mins // 60
    if hours < 8:
        return "%dh%dm" % (hours, mins % 60)
    if hours < 48:
        return "%dh" % hours
    return "%dd" % (hours // 24)


class ApiError(Exception):
    """An error answered as a Status object, as the real API server does."""

    REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
               415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
               503: "ServiceUnavailable", 504: "Timeout"}

    def __init__(self, code, message, reason=None, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or self.REASONS.get(code, "InternalError" if code >= 500 else "BadRequest")
        self.details = details

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


class ResourceType:
    """One served resource (all its versions share one storage)."""

    def __init__(self, group, kind, plural, versions=None, namespaced=True, short=None, sub=None, cat=None,
                 generation=False, crd=False, singular=None, from_crd=None, verbs=None):
        self.group = group
        self.versions = list(versions or ["v1"])
        self.kind = kind
        self.plural = plural
        self.singular = singular or kind.lower()
        self.namespaced = namespaced
        self.short_names = list(short or [])
        self.subresources = list(sub or [])
        self.categories = list(cat or [])
        # Custom resources always maintain generation.
        self.generation = generation or crd or from_crd is not None
        self.from_crd = from_crd  # name of the CRD that declared it, for dynamically added kinds
        self.verbs = list(verbs or ALL_VERBS)

    def qualified(self):
        """`deployments.apps`, or `configmaps` for the core group: how messages name the resource."""
        return self.plural if not self.group else "%s.%s" % (self.plural, self.group)

    def api_version(self, version):
        return version if not self.group else "%s/%s" % (self.group, version)


class Registry:
    """The served resource types, keyed by (group, plural)."""

    def __init__(self):
        self.types = {}

    def add(self, rt):
        self.types[(rt.group, rt.plural)] = rt

    def lookup(self, group, version, plural):
        rt = self.types.get((group, plural))
        if rt is not None and version in rt.versions:
            return rt
        return None

    def group_versions(self):
        """{group: [versions, preferred first]} in registration order; core group included as ''."""
        out = {}
        for rt in self.types.values():
            versions = out.setdefault(rt.group, [])
            for v in rt.versions:
                if v not in versions:
                    versions.append(v)
        return out

    def types_in(self, group, version):
        return [rt for rt in self.types.values() if rt.group == group and version in rt.versions]


# ---------------------------------------------------------------------------------------------------------
# Object helpers: paths, merges, patches, selectors.

def get_path(obj, path):
    cur = obj
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return MISSING
        cur = cur[key]
    return cur


def delete_path(obj, path):
    """Removes path and then any map that became empty on the way up (below the top level)."""
    parents = []
    cur = obj
    for key in path[:-1]:
        if not isinstance(cur, dict) or key not in cur:
            return
        parents.append((cur, key))
        cur = cur[key]
    if isinstance(cur, dict):
        cur.pop(path[-1], None)
    for parent, key in reversed(parents[1:]):
        if parent[key] == {}:
            del parent[key]


def leaf_paths(obj, prefix=()):
    """{path: value} for every leaf: a scalar, a list (atomic) or an empty map."""
    out = {}
    for key, value in obj.items():
        path = prefix + (key,)
        if isinstance(value, dict) and value:
            out.update(leaf_paths(value, path))
        else:
            out[path] = value
    return out


def owned_leaves(obj):
    """The leaves a manager can own: everything but apiVersion, kind, status and server metadata."""
    trimmed = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "status")}
    meta = dict(trimmed.get("metadata") or {})
    for key in SERVER_METADATA + ("name", "namespace"):
        meta.pop(key, None)
    if meta:
        trimmed["metadata"] = meta
    else:
        trimmed.pop("metadata", None)
    return leaf_paths(trimmed)


def paths_overlap(a, b):
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def fields_to_v1(paths):
    """A set of paths as the real FieldsV1 shape: {"f:spec": {"f:replicas": {}}}."""
    root = {}
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault("f:" + key, {})
    return root


def fields_from_v1(fields, prefix=()):
    out = set()
    for key, child in (fields or {}).items():
        if not key.startswith("f:"):
            # A keyed list element (k:/v:/i:) or "." from a real server: we own such lists whole.
            if prefix:
                out.add(prefix)
            continue
        path = prefix + (key[2:],)
        if not child:
            out.add(path)
        else:
            out |= fields_from_v1(child, path)
    return out


def deep_merge(base, overlay):
    """Maps merge key by key; everything else (scalars, lists) is replaced. Used by server-side apply."""
    out = dict(base) if isinstance(base, dict) else {}
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_patch(target, patch, strategic=False, field=None):
    """RFC 7386 JSON merge patch; with strategic, keyed lists merge by key and $-directives are dropped."""
    if not isinstance(patch, dict):
        if strategic and isinstance(patch, list) and isinstance(target, list) and field in STRATEGIC_MERGE_KEYS:
            return merge_keyed_list(target, patch, STRATEGIC_MERGE_KEYS[field])
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for key, value in patch.items():
        if strategic and key.startswith("$"):
            continue
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value, strategic, key)
    return out


def merge_keyed_list(target, patch, merge_key):
    out = [copy.deepcopy(item) for item in target]
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            out.append(copy.deepcopy(item))
            continue
        index = next((i for i, cur in enumerate(out)
                      if isinstance(cur, dict) and cur.get(merge_key) == item[merge_key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del out[index]
        elif index is None:
            out.append(merge_patch({}, item, True))
        else:
            out[index] = merge_patch(out[index], item, True)
    return out


def json_pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "invalid JSON pointer %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc, ops):
    """RFC 6902: add, remove, replace, move, copy, test."""
    if not isinstance(ops, list):
        raise ApiError(400, "json patch must be a list of operations")
    doc = copy.deepcopy(doc)

    def parent_of(tokens):
        cur = doc
        for tok in tokens[:-1]:
            if isinstance(cur, list):
                cur = cur[int(tok)]
            elif isinstance(cur, dict) and tok in cur:
                cur = cur[tok]
            else:
                raise ApiError(422, "doc is missing path: /%s" % "/".join(tokens))
        return cur

    def read(tokens):
        cur = doc
        for tok in tokens:
            if isinstance(cur, list):
                cur = cur[int(tok)]
            elif isinstance(cur, dict) and tok in cur:
                cur = cur[tok]
            else:
                raise ApiError(422, "doc is missing path: /%s" % "/".join(tokens))
        return cur

    def remove(tokens):
        parent = parent_of(tokens)
        if isinstance(parent, list):
            return parent.pop(int(tokens[-1]))
        if tokens[-1] not in parent:
            raise ApiError(422, "doc is missing path: /%s" % "/".join(tokens))
        return parent.pop(tokens[-1])

    def add(tokens, value):
        nonlocal doc
        if not tokens:
            doc = value
            return
        parent = parent_of(tokens)
        if isinstance(parent, list):
            if tokens[-1] == "-":
                parent.append(value)
            else:
                parent.insert(int(tokens[-1]), value)
        else:
            parent[tokens[-1]] = value

    try:
        for op in ops:
            kind = op.get("op")
            tokens = json_pointer(op.get("path", ""))
            if kind == "add":
                add(tokens, copy.deepcopy(op.get("value")))
            elif kind == "remove":
                remove(tokens)
            elif kind == "replace":
                remove(tokens)
                add(tokens, copy.deepcopy(op.get("value")))
            elif kind == "move":
                add(tokens, remove(json_pointer(op["from"])))
            elif kind == "copy":
                add(tokens, copy.deepcopy(read(json_pointer(op["from"]))))
            elif kind == "test":
                if read(tokens) != op.get("value"):
                    raise ApiError(422, "testing value /%s failed" % "/".join(tokens))
            else:
                raise ApiError(400, "unexpected kind of json patch operation: %r" % kind)
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        raise ApiError(422, "json patch failed: %s" % exc)
    return doc


def split_selector(text):
    """Splits on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def parse_label_selector(text):
    """Returns a predicate over a labels dict."""
    reqs = []
    for part in split_selector(text or ""):
        words = part.split()
        if len(words) >= 3 and words[1] in ("in", "notin"):
            values = {v.strip() for v in part.split("(", 1)[1].rstrip(")").split(",") if v.strip()}
            key, op = words[0], words[1]
            if op == "in":
                reqs.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                reqs.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif "!=" in part:
            key, value = [s.strip() for s in part.split("!=", 1)]
            reqs.append(lambda labels, k=key, v=value: labels.get(k) != v)
        elif "==" in part or "=" in part:
            key, value = [s.strip() for s in part.replace("==", "=").split("=", 1)]
            reqs.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif part.startswith("!"):
            reqs.append(lambda labels, k=part[1:].strip(): k not in labels)
        else:
            reqs.append(lambda labels, k=part: k in labels)
    return lambda labels: all(req(labels or {}) for req in reqs)


def parse_field_selector(text):
    reqs = []
    for part in split_selector(text or ""):
        negate = "!=" in part
        key, value = [s.strip() for s in part.replace("!=", "=").replace("==", "=").split("=", 1)]
        path = tuple(key.split("."))
        reqs.append(lambda obj, p=path, v=value, n=negate: (str(get_path(obj, p)) == v
                                                            if get_path(obj, p) is not MISSING else v == "") != n)
    return lambda obj: all(req(obj) for req in reqs)


# ---------------------------------------------------------------------------------------------------------
# Protobuf request bodies. kubectl 1.32's typed clients (kubectl create namespace|configmap|secret|
# serviceaccount, kubectl auth can-i) send application/vnd.kubernetes.protobuf; everything else kubectl
# sends is JSON. Responses are always JSON, which client-go decodes by the response's Content-Type.
# Field numbers are those of k8s.io/api's generated.proto files.

PB_SCHEMAS = {
    "ObjectMeta": {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
                   4: ("selfLink", "string"), 5: ("uid", "string"), 6: ("resourceVersion", "string"),
                   7: ("generation", "int"), 8: (None, "skip"), 9: (None, "skip"),
                   10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "map"), 12: ("annotations", "map"),
                   13: ("ownerReferences", "[]OwnerReference"), 14: ("finalizers", "[]string"),
                   17: (None, "skip")},
    "OwnerReference": {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
                       5: ("apiVersion", "string"), 6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")},
    "ObjectReference": {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string"),
                        4: ("uid", "string"), 5: ("apiVersion", "string"), 6: ("resourceVersion", "string"),
                        7: ("fieldPath", "string")},
    "LocalObjectReference": {1: ("name", "string")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec"), 3: (None, "skip")},
    "NamespaceSpec": {1: ("finalizers", "[]string")},
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 2: ("data", "map"), 3: ("binaryData", "map:bytes"),
                  4: ("immutable", "bool")},
    "Secret": {1: ("metadata", "ObjectMeta"), 2: ("data", "map:bytes"), 3: ("type", "string"),
               4: ("stringData", "map"), 5: ("immutable", "bool")},
    "ServiceAccount": {1: ("metadata", "ObjectMeta"), 2: ("secrets", "[]ObjectReference"),
                       3: ("imagePullSecrets", "[]LocalObjectReference"),
                       4: ("automountServiceAccountToken", "bool")},
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta"), 2: ("spec", "SelfSubjectAccessReviewSpec"),
                                3: (None, "skip")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes"),
                                    2: ("nonResourceAttributes", "NonResourceAttributes")},
    "ResourceAttributes": {1: ("namespace", "string"), 2: ("verb", "string"), 3: ("group", "string"),
                           4: ("version", "string"), 5: ("resource", "string"), 6: ("subresource", "string"),
                           7: ("name", "string"), 8: (None, "skip"), 9: (None, "skip")},
    "NonResourceAttributes": {1: ("path", "string"), 2: ("verb", "string")},
}
PB_UNKNOWN = {1: ("typeMeta", "TypeMeta"), 2: ("raw", "rawbytes"), 3: ("contentEncoding", "string"),
              4: ("contentType", "string")}
PB_SCHEMAS["Unknown"] = PB_UNKNOWN
PB_SCHEMAS["TypeMeta"] = {1: ("apiVersion", "string"), 2: ("kind", "string")}


def pb_fields(data):
    """Yields (field number, wire type, value) from protobuf wire format."""
    pos = 0

    def varint():
        nonlocal pos
        shift = result = 0
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    while pos < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, wire, varint()
        elif wire == 2:
            length = varint()
            yield number, wire, data[pos:pos + length]
            pos += length
        elif wire == 1:
            yield number, wire, data[pos:pos + 8]
            pos += 8
        elif wire == 5:
            yield number, wire, data[pos:pos + 4]
            pos += 4
        else:
            raise ValueError("unsupported protobuf wire type %d" % wire)


def pb_decode(data, message):
    schema = PB_SCHEMAS[message]
    out = {}
    for number, _, value in pb_fields(data):
        if number not in schema:
            raise ApiError(415, "this test server cannot decode field %d of protobuf %s; send JSON instead "
                                "(kubectl apply/create -f does)" % (number, message))
        name, kind = schema[number]
        if kind == "skip":
            continue
        if kind == "string":
            out[name] = value.decode()
        elif kind == "rawbytes":
            out[name] = value
        elif kind == "int":
            out[name] = value
        elif kind == "bool":
            out[name] = bool(value)
        elif kind.startswith("map"):
            entry = {n: v for n, _, v in pb_fields(value)}
            item = entry.get(2, b"")
            out.setdefault(name, {})[entry.get(1, b"").decode()] = (
                base64.b64encode(item).decode() if kind == "map:bytes" else item.decode())
        elif kind == "[]string":
            out.setdefault(name, []).append(value.decode())
        elif kind.startswith("[]"):
            out.setdefault(name, []).append(pb_decode(value, kind[2:]))
        else:
            out[name] = pb_decode(value, kind)
    return out


def decode_protobuf_object(body):
    """A protobuf-encoded object (the "k8s" magic and a NUL byte, then a runtime.Unknown) as its JSON-shaped dict."""
    if not body.startswith(b"k8s\x00"):
        raise ApiError(415, "protobuf body without the k8s envelope")
    unknown = pb_decode(body[4:], "Unknown")
    type_meta = unknown.get("typeMeta", {})
    kind = type_meta.get("kind", "")
    if kind not in PB_SCHEMAS or kind in ("Unknown", "TypeMeta", "ObjectMeta"):
        raise ApiError(415, "this test server cannot decode protobuf %s bodies; send JSON instead "
                            "(kubectl apply/create -f does)" % (kind or "(no kind)"))
    obj = {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind}
    obj.update(pb_decode(unknown.get("raw", b""), kind))
    return obj


# ---------------------------------------------------------------------------------------------------------
# Simulated controllers: what the real cluster's controllers would have written by the time kubectl looks.

def is_flagged(obj, key):
    meta = obj.get("metadata") or {}
    return (meta.get("annotations") or {}).get(key) == "true" or (meta.get("labels") or {}).get(key) == "true"


def set_condition(old_conditions, ctype, status, reason, message, times=("lastTransitionTime",)):
    """A condition that keeps its timestamps while nothing about it changes (so dry-runs compare equal)."""
    old = next((c for c in old_conditions or [] if c.get("type") == ctype), None)
    cond = {"type": ctype, "status": status, "reason": reason, "message": message}
    stamp = now_rfc3339()
    for field in times:
        keep = old is not None and old.get("status") == status and (
            field == "lastTransitionTime" or (old.get("reason") == reason and old.get("message") == message))
        cond[field] = old.get(field, stamp) if keep else stamp
    return cond


def template_hash(obj):
    tmpl = json.dumps((obj.get("spec") or {}).get("template") or {}, sort_keys=True)
    return hashlib.sha256(tmpl.encode()).hexdigest()[:10]


def drop_zero(status):
    return {k: v for k, v in status.items() if v not in (0, None)}


def simulate(rt, obj, old, server):
    """Defaults and status for a stored object; old is the previous stored version or None."""
    kind = rt.kind if rt.group in ("", "apps", "batch", "autoscaling", "policy", "apiextensions.k8s.io") else None
    meta = obj["metadata"]
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    old_status = (old or {}).get("status") or {}
    old_conds = old_status.get("conditions") or []
    stuck, failed = is_flagged(obj, STUCK_KEY), is_flagged(obj, FAILED_KEY)
    gen = meta.get("generation", 1)

    if kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj["status"] = {"phase": "Active"}
    elif kind == "Secret":
        if not obj.get("type"):
            obj["type"] = "Opaque"
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if spec["type"] != "ExternalName":
            ip = spec.get("clusterIP") or ((old or {}).get("spec") or {}).get("clusterIP") or server.next_cluster_ip()
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
        lb = {"ingress": [{"ip": "127.0.0.1", "ipMode": "VIP"}]} if spec["type"] == "LoadBalancer" else {}
        obj["status"] = {"loadBalancer": lb}
    elif kind == "Pod":
        spec = obj.setdefault("spec", {})
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("nodeName", "test-node")
        ready = "False" if stuck else "True"
        started = old_status.get("startTime") or meta["creationTimestamp"]
        status = {"phase": "Pending" if stuck else "Running", "hostIP": "10.0.0.10", "podIP": server.pod_ip(meta),
                  "startTime": started, "qosClass": "BestEffort",
                  "conditions": [set_condition(old_conds, t, s, None, None) for t, s in
                                 (("Initialized", "True"), ("Ready", ready), ("ContainersReady", ready),
                                  ("PodScheduled", "True"))],
                  "containerStatuses": [
                      {"name": c.get("name"), "image": c.get("image"), "ready": not stuck, "restartCount": 0,
                       "started": not stuck,
                       "state": {"waiting": {"reason": "ContainerCreating"}} if stuck
                       else {"running": {"startedAt": started}}}
                      for c in spec.get("containers") or [] if isinstance(c, dict)]}
        for cond in status["conditions"]:
            cond.pop("reason"), cond.pop("message")
        obj["status"] = status
    elif kind == "PersistentVolumeClaim":
        obj["status"] = {"phase": "Bound", "accessModes": (spec or {}).get("accessModes", ["ReadWriteOnce"]),
                         "capacity": ((spec or {}).get("resources") or {}).get("requests", {})}
    elif kind == "Deployment":
        spec = obj.setdefault("spec", {})
        replicas = spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        rs_name = "%s-%s" % (meta["name"], template_hash(obj))
        times = ("lastUpdateTime", "lastTransitionTime")
        if stuck or failed:
            progressing = (set_condition(old_conds, "Progressing", "False", "ProgressDeadlineExceeded",
                                         'ReplicaSet "%s" has timed out progressing.' % rs_name, times) if failed
                           else set_condition(old_conds, "Progressing", "True", "ReplicaSetUpdated",
                                              'ReplicaSet "%s" is progressing.' % rs_name, times))
            status = drop_zero({"observedGeneration": gen, "replicas": replicas, "updatedReplicas": replicas,
                                "unavailableReplicas": replicas})
            status["conditions"] = [
                set_condition(old_conds, "Available", "False", "MinimumReplicasUnavailable",
                              "Deployment does not have minimum availability.", times), progressing]
        else:
            status = drop_zero({"observedGeneration": gen, "replicas": replicas, "updatedReplicas": replicas,
                                "readyReplicas": replicas, "availableReplicas": replicas})
            status["conditions"] = [
                set_condition(old_conds, "Available", "True", "MinimumReplicasAvailable",
                              "Deployment has minimum availability.", times),
                set_condition(old_conds, "Progressing", "True", "NewReplicaSetAvailable",
                              'ReplicaSet "%s" has successfully progressed.' % rs_name, times)]
        obj["status"] = status
    elif kind in ("StatefulSet", "ReplicaSet"):
        spec = obj.setdefault("spec", {})
        replicas = spec.setdefault("replicas", 1)
        ready = 0 if stuck else replicas
        if kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
            revision = "%s-%s" % (meta["name"], template_hash(obj))
            status = drop_zero({"observedGeneration": gen, "replicas": replicas, "readyReplicas": ready,
                                "currentReplicas": replicas, "updatedReplicas": replicas,
                                "availableReplicas": ready})
            status.update({"currentRevision": revision, "updateRevision": revision, "collisionCount": 0})
        else:
            status = drop_zero({"observedGeneration": gen, "replicas": replicas, "fullyLabeledReplicas": replicas,
                                "readyReplicas": ready, "availableReplicas": ready})
            status.setdefault("replicas", 0)
        obj["status"] = status
    elif kind == "DaemonSet":
        spec = obj.setdefault("spec", {})
        spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
        ready = 0 if stuck else 1
        obj["status"] = {"currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberMisscheduled": 0,
                         "numberReady": ready, "numberAvailable": ready, "observedGeneration": gen,
                         "updatedNumberScheduled": 1}
        if stuck:
            obj["status"].pop("numberAvailable")
            obj["status"]["numberUnavailable"] = 1
    elif kind == "Job":
        spec = obj.setdefault("spec", {})
        completions = spec.setdefault("completions", 1)
        parallelism = spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        started = old_status.get("startTime") or meta["creationTimestamp"]
        times = ("lastProbeTime", "lastTransitionTime")
        if failed:
            status = {"startTime": started, "failed": spec["backoffLimit"] + 1, "ready": 0, "terminating": 0,
                      "conditions": [set_condition(old_conds, "FailureTarget", "True", "BackoffLimitExceeded",
                                                   "Job has reached the specified backoff limit", times),
                                     set_condition(old_conds, "Failed", "True", "BackoffLimitExceeded",
                                                   "Job has reached the specified backoff limit", times)]}
        elif stuck:
            status = {"startTime": started, "active": parallelism, "ready": 0, "terminating": 0}
        else:
            status = {"startTime": started, "completionTime": old_status.get("completionTime") or now_rfc3339(),
                      "succeeded": completions, "ready": 0, "terminating": 0,
                      "conditions": [set_condition(old_conds, "SuccessCriteriaMet", "True", "CompletionsReached",
                                                   "Reached expected number of succeeded pods", times),
                                     set_condition(old_conds, "Complete", "True", "CompletionsReached",
                                                   "Reached expected number of succeeded pods", times)]}
        status["uncountedTerminatedPods"] = {}
        obj["status"] = status
    elif kind == "HorizontalPodAutoscaler":
        current = (spec or {}).get("minReplicas", 1)
        obj["status"] = {"currentReplicas": current, "desiredReplicas": current, "currentMetrics": None}
        obj["status"].pop("currentMetrics")
    elif kind == "PodDisruptionBudget":
        obj["status"] = {"observedGeneration": gen, "currentHealthy": 0, "desiredHealthy": 0,
                         "disruptionsAllowed": 0, "expectedPods": 0,
                         "conditions": [set_condition(old_conds, "DisruptionAllowed", "False", "InsufficientPods",
                                                      "", ("lastTransitionTime",))]}
        obj["status"]["conditions"][0]["observedGeneration"] = gen
    elif kind == "CustomResourceDefinition":
        names = dict((spec or {}).get("names") or {})
        if "kind" in names:
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
        versions = [v for v in (spec or {}).get("versions") or [] if isinstance(v, dict)]
        stored = [v.get("name") for v in versions if v.get("storage")] or [v.get("name") for v in versions[:1]]
        obj["status"] = {
            "acceptedNames": names,
            "conditions": [set_condition(old_conds, "NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                           set_condition(old_conds, "Established", "True", "InitialNamesAccepted",
                                         "the initial names have been accepted")],
            "storedVersions": sorted(set(old_status.get("storedVersions") or []) | set(stored))}


# ---------------------------------------------------------------------------------------------------------
# The store.

class Store:
    """Every object, the event history for watches and the request log, behind one lock."""

    def __init__(self):
        self.registry = Registry()
        for spec in BUILTIN_TYPES:
            self.registry.add(ResourceType(**spec))
        self.builtin = dict(self.registry.types)
        self.objects = {}  # (group, plural, namespace or "", name) -> object as stored
        self.events = []  # (rv, type, group, plural, namespace, object)
        self.rv = 0
        self.cond = threading.Condition(threading.RLock())
        self.requests = []
        self.faults = []
        self.cluster_ip = 0
        with self.cond:
            self.seed()

    def seed(self):
        """What every fresh cluster has: the four system namespaces and one Ready node."""
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.write(self.registry.types[("", "namespaces")], "v1",
                       {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, None, "Update",
                       "kube-apiserver")
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "test-node", "labels": {"kubernetes.io/hostname": "test-node",
                                                              "kubernetes.io/os": "linux"}},
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                           "message": "kubelet is posting ready status"}],
                           "nodeInfo": {"kubeletVersion": SERVER_VERSION["gitVersion"], "architecture": "amd64",
                                        "operatingSystem": "linux"},
                           "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                           "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}]}}
        self.write(self.registry.types[("", "nodes")], "v1", node, None, "Update", "kubelet")

    def next_cluster_ip(self):
        self.cluster_ip += 1
        return "10.96.%d.%d" % (self.cluster_ip // 250, self.cluster_ip % 250 + 1)

    def pod_ip(self, meta):
        digest = hashlib.sha256(meta.get("uid", meta["name"]).encode()).digest()
        return "10.244.%d.%d" % (digest[0], digest[1] % 250 + 1)

    @staticmethod
    def key(rt, namespace, name):
        return (rt.group, rt.plural, namespace or "", name)

    def get(self, rt, namespace, name):
        return self.objects.get(self.key(rt, namespace, name))

    def list(self, rt, namespace):
        items = [obj for (g, p, ns, _), obj in self.objects.items()
                 if g == rt.group and p == rt.plural and (namespace is None or ns == namespace)]
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def emit(self, event_type, rt, obj):
        self.events.append((int(obj["metadata"]["resourceVersion"]), event_type, rt.group, rt.plural,
                            obj["metadata"].get("namespace", ""), copy.deepcopy(obj)))
        self.cond.notify_all()

    def write(self, rt, version, new, old, operation, manager, fields=None, dry_run=False, subresource=None,
              entries=None):
        """Stores new (a full object) in place of old, maintaining metadata, managedFields and status.

        fields: the manager's new field set for an Apply; None for an Update, whose fields are derived
        from what the client changed (before defaulting, so nobody owns defaults). entries: managedFields
        to start from instead of old's (a forced apply has taken fields from other managers).
        Returns the stored (or, with dry_run, would-be) object.
        """
        meta = new.setdefault("metadata", {})
        if old is not None:
            old_meta = old["metadata"]
            for key in ("uid", "creationTimestamp", "generation", "name"):
                if key in old_meta:
                    meta[key] = old_meta[key]
                else:
                    meta.pop(key, None)
            if rt.namespaced:
                meta["namespace"] = old_meta.get("namespace")
            meta["resourceVersion"] = old_meta["resourceVersion"]
            if subresource != "status" and "status" in rt.subresources:
                # Clients cannot write status through the main resource of a kind with a status subresource.
                new.pop("status", None)
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
        else:
            if "status" in rt.subresources:
                new.pop("status", None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if rt.generation:
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
        for key in ("selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(key, None)
        new["apiVersion"] = rt.api_version(version)
        new["kind"] = rt.kind

        if entries is None:
            entries = ((old or {}).get("metadata") or {}).get("managedFields") or []
        managed = self.managed_fields(rt, version, new, old, operation, manager, fields, subresource, entries)
        simulate(rt, new, old, self)
        if old is not None and rt.generation:
            strip = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status")}
            if strip(old) != strip(new):
                meta["generation"] = old["metadata"].get("generation", 1) + 1
                simulate(rt, new, old, self)  # status reports the new observedGeneration
        meta.pop("managedFields", None)
        if managed:
            meta["managedFields"] = managed

        if dry_run and old is not None:
            # Controllers have not seen a dry-run object yet: it carries the live status.
            new.pop("status", None)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
        if old is not None and self.comparable(old) == self.comparable(new):
            return copy.deepcopy(old)  # a no-op write changes nothing, not even resourceVersion
        if dry_run:
            return new
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        self.objects[self.key(rt, meta.get("namespace"), meta["name"])] = new
        self.emit("MODIFIED" if old is not None else "ADDED", rt, new)
        if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
            self.register_crd(new)
        return copy.deepcopy(new)

    @staticmethod
    def comparable(obj):
        out = copy.deepcopy(obj)
        out["metadata"].pop("resourceVersion", None)
        return out

    @staticmethod
    def managed_fields(rt, version, new, old, operation, manager, fields, subresource, old_entries):
        entries = [dict(entry, _fields=fields_from_v1(entry.get("fieldsV1"))) for entry in old_entries]
        stamp = now_rfc3339()
        if operation == "Apply":
            mine = set(fields)
        else:
            new_leaves = owned_leaves(new)
            old_leaves = owned_leaves(old) if old is not None else {}
            changed = {p for p, v in new_leaves.items() if old_leaves.get(p, MISSING) != v}
            removed = {p for p in old_leaves if p not in new_leaves}
            for entry in entries:
                entry["_fields"] = {p for p in entry["_fields"]
                                    if not any(paths_overlap(p, c) for c in changed | removed)}
            current = next((e for e in entries if e["manager"] == manager and e["operation"] == "Update"
                            and e.get("subresource") == subresource), None)
            mine = ((current or {}).get("_fields", set()) - removed) | changed
        current = next((e for e in entries if e["manager"] == manager and e["operation"] == operation
                        and e.get("subresource") == subresource), None)
        if current is None and mine:
            current = {"manager": manager, "operation": operation, "_fields": set()}
            if subresource:
                current["subresource"] = subresource
            entries.append(current)
        if current is not None:
            if current["_fields"] != mine or current.get("apiVersion") != rt.api_version(version):
                current["time"] = stamp
            current["_fields"] = mine
            current["apiVersion"] = rt.api_version(version)
        out = []
        for entry in entries:
            if not entry["_fields"]:
                continue
            item = {"manager": entry["manager"], "operation": entry["operation"], "apiVersion": entry["apiVersion"],
                    "time": entry.get("time", stamp), "fieldsType": "FieldsV1",
                    "fieldsV1": fields_to_v1(entry["_fields"])}
            if entry.get("subresource"):
                item["subresource"] = entry["subresource"]
            out.append(item)
        return out

    def delete(self, rt, obj):
        meta = obj["metadata"]
        del self.objects[self.key(rt, meta.get("namespace"), meta["name"])]
        self.rv += 1
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self.rv)
        self.emit("DELETED", rt, gone)
        if rt.kind == "Namespace" and rt.group == "":
            for key in [k for k in self.objects if k[2] == meta["name"]]:
                inner = self.registry.types.get((key[0], key[1]))
                if inner is not None:
                    self.delete(inner, self.objects[key])
        if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
            self.unregister_crd(obj)
        return gone

    def register_crd(self, crd):
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        versions = [v.get("name") for v in spec.get("versions") or []
                    if isinstance(v, dict) and v.get("served", True) and v.get("name")]
        if not (spec.get("group") and names.get("plural") and names.get("kind") and versions):
            return
        key = (spec["group"], names["plural"])
        if key in self.builtin:
            return  # already served; its versions stay the built-in ones
        self.registry.add(ResourceType(
            group=spec["group"], kind=names["kind"], plural=names["plural"], versions=versions,
            namespaced=spec.get("scope", "Namespaced") == "Namespaced", short=names.get("shortNames"),
            cat=names.get("categories"), singular=names.get("singular"),
            sub=["status"] if any("status" in (v.get("subresources") or {}) for v in spec.get("versions") or []
                                  if isinstance(v, dict)) else [],
            from_crd=crd["metadata"]["name"]))

    def unregister_crd(self, crd):
        for key, rt in list(self.registry.types.items()):
            if rt.from_crd == crd["metadata"]["name"]:
                for okey in [k for k in self.objects if (k[0], k[1]) == key]:
                    self.delete(rt, self.objects[okey])
                del self.registry.types[key]

    def all_objects(self):
        return [copy.deepcopy(o) for _, o in sorted(self.objects.items(), key=lambda kv: (
            kv[0][0], kv[1].get("kind", ""), kv[0][2], kv[0][3]))]


# ---------------------------------------------------------------------------------------------------------
# Discovery and OpenAPI documents, generated from the registry.

def api_resource(rt, version):
    out = [{"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
            "verbs": rt.verbs}]
    if rt.short_names:
        out[0]["shortNames"] = rt.short_names
    if rt.categories:
        out[0]["categories"] = rt.categories
    for sub in rt.subresources:
        kind = SUBRESOURCE_KINDS[sub]
        entry = {"name": "%s/%s" % (rt.plural, sub), "singularName": "", "namespaced": rt.namespaced,
                 "kind": kind[2] if kind else rt.kind, "verbs": SUBRESOURCE_VERBS[sub]}
        if kind and kind[0]:
            entry["group"], entry["version"] = kind[0], kind[1]
        out.append(entry)
    return out


def aggregated_group(registry, group):
    versions = []
    for version in registry.group_versions()[group]:
        resources = []
        for rt in registry.types_in(group, version):
            res = {"resource": rt.plural, "responseKind": {"group": rt.group, "version": version, "kind": rt.kind},
                   "scope": "Namespaced" if rt.namespaced else "Cluster", "singularResource": rt.singular,
                   "verbs": rt.verbs}
            if rt.short_names:
                res["shortNames"] = rt.short_names
            if rt.categories:
                res["categories"] = rt.categories
            subs = []
            for sub in rt.subresources:
                kind = SUBRESOURCE_KINDS[sub] or (rt.group, version, rt.kind)
                subs.append({"subresource": sub, "responseKind": {"group": kind[0], "version": kind[1],
                                                                  "kind": kind[2]},
                             "verbs": SUBRESOURCE_VERBS[sub]})
            if subs:
                res["subresources"] = subs
            resources.append(res)
        versions.append({"version": version, "resources": resources, "freshness": "Current"})
    return {"metadata": {"name": group, "creationTimestamp": None}, "versions": versions}


def openapi_v3_doc(registry, group, version):
    """Enough OpenAPI v3 for kubectl's field-validation check: a PATCH operation per kind that lists the
    fieldValidation query parameter, and a schema per kind that preserves unknown fields."""
    prefix = "/api/%s" % version if not group else "/apis/%s/%s" % (group, version)
    params = [{"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
              for name in ("dryRun", "fieldManager", "fieldValidation", "force")]
    paths, schemas = {}, {}
    for rt in registry.types_in(group, version):
        gvk = {"group": group, "version": version, "kind": rt.kind}
        schema_name = "%s.%s.%s" % (group or "core", version, rt.kind)
        path = prefix + ("/namespaces/{namespace}/" if rt.namespaced else "/") + rt.plural + "/{name}"
        ref = {"$ref": "#/components/schemas/" + schema_name}
        paths[path] = {
            "get": {"operationId": "read" + rt.kind, "responses": {"200": {"description": "OK", "content": {
                "application/json": {"schema": ref}}}}, "x-kubernetes-action": "get",
                "x-kubernetes-group-version-kind": gvk},
            "patch": {"operationId": "patch" + rt.kind, "parameters": params,
                      "requestBody": {"content": {"application/apply-patch+yaml": {"schema": {"type": "object"}},
                                                  "application/merge-patch+json": {"schema": {"type": "object"}}}},
                      "responses": {"200": {"description": "OK", "content": {
                          "application/json": {"schema": ref}}}},
                      "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk}}
        schemas[schema_name] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                "x-kubernetes-group-version-kind": [gvk]}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": schemas}}


def gv_path(group, version):
    return "api/%s" % version if not group else "apis/%s/%s" % (group, version)


# ---------------------------------------------------------------------------------------------------------
# HTTP.

K8S_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "slipway-test-kube-apiserver"
    # Headers and body go out in separate writes; with Nagle on, each response waits ~40 ms for the
    # client's delayed ACK.
    disable_nagle_algorithm = True
    store = None  # set by main
    unauthorized = False

    def log_message(self, fmt, *args):  # quiet: tests read /_test/requests instead
        pass

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    # -- plumbing --------------------------------------------------------------------------------------
    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_bytes(self, code, body, content_type="application/json"):
        self.status_code = code
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, code, obj, content_type="application/json"):
        self.send_bytes(code, json.dumps(obj).encode(), content_type)

    def handle_any(self):
        self.status_code = 0
        url = urlsplit(self.path)
        self.req_path = url.path if url.path == "/" else url.path.rstrip("/")
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.body = self.read_body()
        if self.req_path.startswith("/_test/"):
            try:
                self.control()
            except (ValueError, KeyError, TypeError) as exc:
                self.send_json(400, {"error": str(exc)})
            return
        entry = {"method": self.command, "path": self.req_path, "query": url.query,
                 "content_type": self.headers.get("Content-Type", ""),
                 "user_agent": self.headers.get("User-Agent", "")}
        if self.command in ("POST", "PUT", "PATCH", "DELETE") and self.body:
            entry["body"] = self.body.decode("utf-8", "replace")
        with self.store.cond:
            self.store.requests.append(entry)
        try:
            self.check_auth()
            self.route()
        except ApiError as err:
            self.send_json(err.code, err.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug here must still answer, and say what happened
            self.send_json(500, ApiError(500, "test server error: %r" % exc).status())
            raise
        finally:
            entry["status"] = self.status_code

    def check_auth(self):
        if self.unauthorized:
            raise ApiError(401, "Unauthorized")

    # -- test control ------------------------------------------------------------------------------------
    def control(self):
        store = self.store
        if self.req_path == "/_test/objects" and self.command == "GET":
            with store.cond:
                self.send_json(200, store.all_objects())
        elif self.req_path == "/_test/requests" and self.command == "GET":
            with store.cond:
                self.send_json(200, list(store.requests))
        elif self.req_path == "/_test/reset-requests" and self.command == "POST":
            with store.cond:
                store.requests.clear()
            self.send_json(200, {"ok": True})
        elif self.req_path == "/_test/fail" and self.command == "POST":
            fault = json.loads(self.body or b"{}")
            fault.setdefault("times", 1)
            fault.setdefault("code", 500)
            with store.cond:
                store.faults.append(fault)
            self.send_json(200, {"ok": True})
        elif self.req_path == "/_test/fail" and self.command == "DELETE":
            with store.cond:
                store.faults.clear()
            self.send_json(200, {"ok": True})
        else:
            self.send_json(404, {"error": "unknown test endpoint %s %s" % (self.command, self.req_path)})

    def maybe_fault(self, verb, rt=None, namespace=None, name=None):
        with self.store.cond:
            for fault in self.store.faults:
                if fault.get("verb") and fault["verb"] not in (self.command, verb, verb.upper()):
                    continue
                if fault.get("resource") and (rt is None or fault["resource"] not in (rt.plural, rt.qualified())):
                    continue
                if fault.get("name") and fault["name"] != name:
                    continue
                if fault.get("namespace") and fault["namespace"] != namespace:
                    continue
                if fault.get("path") and not self.req_path.startswith(fault["path"]):
                    continue
                if fault["times"] == 0:
                    continue
                if fault["times"] > 0:
                    fault["times"] -= 1
                code = int(fault["code"])
                raise ApiError(code, fault.get("message") or "injected fault: %s %s" % (self.command, self.req_path),
                               reason=fault.get("reason"))

    # -- routing -----------------------------------------------------------------------------------------
    def route(self):
        path, store = self.req_path, self.store
        parts = [p for p in path.split("/") if p]
        if path == "/version":
            self.maybe_fault("get")
            return self.send_json(200, SERVER_VERSION)
        if path in ("/readyz", "/livez", "/healthz") or path.startswith(("/readyz/", "/livez/", "/healthz/")):
            self.maybe_fault("get")
            if "verbose" in self.query:
                checks = ["ping", "log", "etcd", "informer-sync", "poststarthook/start-apiextensions-controllers"]
                text = "".join("[+]%s ok\n" % c for c in checks) + "%s check passed\n" % parts[0]
            else:
                text = "ok"
            return self.send_bytes(200, text.encode(), "text/plain; charset=utf-8")
        if path == "/openapi/v3":
            with store.cond:
                paths = {}
                for group, versions in store.registry.group_versions().items():
                    for version in versions:
                        doc = json.dumps(openapi_v3_doc(store.registry, group, version), sort_keys=True)
                        digest = hashlib.sha256(doc.encode()).hexdigest()[:32].upper()
                        paths[gv_path(group, version)] = {
                            "serverRelativeURL": "/openapi/v3/%s?hash=%s" % (gv_path(group, version), digest)}
            return self.send_json(200, {"paths": paths})
        if path.startswith("/openapi/v3/"):
            rest = parts[2:]
            group, version = ("", rest[1]) if rest[:1] == ["api"] and len(rest) == 2 else (
                (rest[1], rest[2]) if rest[:1] == ["apis"] and len(rest) == 3 else (None, None))
            with store.cond:
                if group is None or not store.registry.types_in(group, version):
                    raise ApiError(404, "the server could not find the requested resource")
                return self.send_json(200, openapi_v3_doc(store.registry, group, version))
        if path in ("/api", "/apis"):
            return self.discovery_root(path)
        if parts and parts[0] in ("api", "apis"):
            return self.resource_request(parts)
        raise ApiError(404, "the server could not find the requested resource", details={})

    def wants_aggregated(self):
        return "as=APIGroupDiscoveryList" in self.headers.get("Accept", "")

    def discovery_root(self, path):
        self.maybe_fault("get")
        reg = self.store.registry
        with self.store.cond:
            gvs = reg.group_versions()
            if self.wants_aggregated():
                groups = [""] if path == "/api" else [g for g in gvs if g]
                body = {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
                        "items": [aggregated_group(reg, g) for g in groups]}
                return self.send_json(200, body,
                                      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
            if path == "/api":
                host = "127.0.0.1:%d" % self.server.server_address[1]
                return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                        "groups": [self.api_group(g, vs) for g, vs in gvs.items() if g]})

    @staticmethod
    def api_group(group, versions):
        gvs = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in versions]
        return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def resource_request(self, parts):
        store = self.store
        if parts[0] == "api":
            group, rest = "", parts[1:]
        else:
            group, rest = (parts[1] if len(parts) > 1 else ""), parts[2:]
        version, rest = (rest[0], rest[1:]) if rest else (None, [])
        with store.cond:
            gvs = store.registry.group_versions()
            if version is None:  # /apis/<group>
                if parts[0] == "apis" and group in gvs:
                    self.maybe_fault("get")
                    return self.send_json(200, dict(self.api_group(group, gvs[group]), kind="APIGroup",
                                                    apiVersion="v1"))
                raise ApiError(404, "the server could not find the requested resource", details={})
            if not store.registry.types_in(group, version):
                raise ApiError(404, "the server could not find the requested resource", details={})
            if not rest:
                self.maybe_fault("get")
                resources = [r for rt in store.registry.types_in(group, version) for r in api_resource(rt, version)]
                return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                            "groupVersion": "%s/%s" % (group, version) if group else version,
                                            "resources": resources})
            namespace = None
            if len(rest) >= 3 and rest[0] == "namespaces":
                inner = store.registry.lookup(group, version, rest[2])
                if inner is not None and inner.namespaced:
                    namespace, rest = rest[1], rest[2:]
            rt = store.registry.lookup(group, version, rest[0])
            if rt is None or len(rest) > 3 or (namespace is None and rt.namespaced and len(rest) > 1):
                raise ApiError(404, "the server could not find the requested resource", details={})
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in rt.subresources:
            raise ApiError(404, "the server could not find the requested resource", details={})
        self.dispatch(rt, version, namespace, name, sub)

    def dispatch(self, rt, version, namespace, name, sub):
        method = self.command
        if method == "GET" and name is None:
            verb = "watch" if self.query.get("watch") in ("true", "1") else "list"
        elif method == "DELETE" and name is None:
            verb = "deletecollection"
        else:
            verb = K8S_VERBS.get(method)
        if verb is None or (name is None and method in ("PUT", "PATCH")) or (name is not None and method == "POST") \
                or verb not in rt.verbs:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        if sub == "log" and method != "GET":
            raise ApiError(405, "the server does not allow this method on the requested resource")
        self.maybe_fault(verb, rt, namespace, name)
        if verb == "watch":
            return self.watch(rt, version, namespace)
        with self.store.cond:
            handler = {"get": self.get_one, "list": self.list_objects, "create": self.create, "update": self.update,
                       "patch": self.patch, "delete": self.delete_one,
                       "deletecollection": self.delete_collection}[verb]
            handler(rt, version, namespace, name, sub)

    # -- verbs -------------------------------------------------------------------------------------------
    def not_found(self, rt, name):
        details = {"name": name, "kind": rt.plural}
        if rt.group:
            details = {"name": name, "group": rt.group, "kind": rt.plural}
        return ApiError(404, '%s "%s" not found' % (rt.qualified(), name), details=details)

    def require_namespace(self, rt, namespace):
        if rt.namespaced and self.store.get(self.store.registry.types[("", "namespaces")], None, namespace) is None:
            return ApiError(404, 'namespaces "%s" not found' % namespace, details={"name": namespace,
                                                                                    "kind": "namespaces"})
        return None

    def existing(self, rt, namespace, name):
        obj = self.store.get(rt, namespace, name)
        if obj is None:
            raise self.not_found(rt, name)
        return obj

    def present(self, rt, version, obj):
        """An object as a client sees it in the requested version."""
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.api_version(version)
        return out

    def respond_object(self, code, rt, version, obj, sub=None):
        if sub == "scale":
            return self.send_json(code, self.scale_of(obj))
        self.send_json(code, self.present(rt, version, obj))

    def get_one(self, rt, version, namespace, name, sub):
        obj = self.existing(rt, namespace, name)
        if sub == "log":
            text = ((obj["metadata"].get("annotations") or {}).get(LOG_KEY) or "")
            if text and not text.endswith("\n"):
                text += "\n"
            if "tailLines" in self.query:
                lines = text.splitlines(keepends=True)
                text = "".join(lines[-int(self.query["tailLines"]):]) if int(self.query["tailLines"]) else ""
            return self.send_bytes(200, text.encode(), "text/plain")
        if "as=Table" in self.headers.get("Accept", "") and sub is None:
            return self.send_json(200, self.table(rt, [obj]))
        self.respond_object(200, rt, version, obj, sub)

    def selected(self, rt, namespace):
        labels = parse_label_selector(self.query.get("labelSelector", ""))
        fields = parse_field_selector(self.query.get("fieldSelector", ""))
        return [o for o in self.store.list(rt, namespace)
                if labels(o["metadata"].get("labels")) and fields(o)]

    def list_objects(self, rt, version, namespace, name, sub):
        items = self.selected(rt, namespace)
        if "as=Table" in self.headers.get("Accept", ""):
            return self.send_json(200, self.table(rt, items))
        self.send_json(200, {"kind": rt.kind + "List", "apiVersion": rt.api_version(version),
                             "metadata": {"resourceVersion": str(self.store.rv)},
                             "items": [self.present(rt, version, o) for o in items]})

    def table(self, rt, objects):
        extra = {
            "Namespace": [("Status", lambda o: (o.get("status") or {}).get("phase", ""))],
            "Deployment": [("Ready", lambda o: "%d/%d" % ((o.get("status") or {}).get("readyReplicas", 0),
                                                          (o.get("spec") or {}).get("replicas", 1))),
                           ("Up-to-date", lambda o: (o.get("status") or {}).get("updatedReplicas", 0)),
                           ("Available", lambda o: (o.get("status") or {}).get("availableReplicas", 0))],
            "Pod": [("Status", lambda o: (o.get("status") or {}).get("phase", ""))],
            "Service": [("Type", lambda o: (o.get("spec") or {}).get("type", "")),
                        ("Cluster-IP", lambda o: (o.get("spec") or {}).get("clusterIP", ""))],
        }.get(rt.kind, []) if rt.group in ("", "apps") else []
        defs = [{"name": "Name", "type": "string", "format": "name", "description": "Name of the object",
                 "priority": 0}]
        defs += [{"name": title, "type": "string", "format": "", "description": title, "priority": 0}
                 for title, _ in extra]
        defs.append({"name": "Age", "type": "string", "format": "", "description": "Age of the object",
                     "priority": 0})
        include = self.query.get("includeObject", "Metadata")
        rows = []
        for obj in objects:
            row = {"cells": [obj["metadata"]["name"]] + [fn(obj) for _, fn in extra]
                   + [human_age(obj["metadata"].get("creationTimestamp"))]}
            if include == "Object":
                row["object"] = obj
            elif include != "None":
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                 "metadata": {k: v for k, v in obj["metadata"].items() if k != "managedFields"}}
            rows.append(row)
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": str(self.store.rv)}, "columnDefinitions": defs, "rows": rows}

    def parse_object(self):
        if (self.headers.get("Content-Type") or "").startswith("application/vnd.kubernetes.protobuf"):
            try:
                return decode_protobuf_object(self.body)
            except (ValueError, IndexError, UnicodeDecodeError) as exc:
                raise ApiError(400, "cannot decode protobuf body: %s" % exc)
        try:
            obj = json.loads(self.body or b"null")
        except ValueError:
            raise ApiError(415, "this test server accepts JSON request bodies and a few protobuf kinds only")
        if not isinstance(obj, (dict, list)):
            raise ApiError(400, "the request body must be a JSON object")
        return obj

    def dry_run(self):
        return self.query.get("dryRun") == "All"

    def manager(self):
        agent = self.headers.get("User-Agent", "unknown")
        return self.query.get("fieldManager") or agent.split("/", 1)[0] or "unknown"

    def check_body_identity(self, rt, obj, namespace, name=None):
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(400, "metadata must be an object")
        kind = obj.get("kind")
        if kind and kind != rt.kind:
            raise ApiError(400, "the API version in the data (%s) does not match the expected API version (%s)"
                           % (obj.get("apiVersion"), rt.api_version(rt.versions[0])))
        if name is not None and meta.get("name") not in (None, name):
            raise ApiError(400, "the name of the object (%s) does not match the name on the URL (%s)"
                           % (meta.get("name"), name))
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise ApiError(400, "the namespace of the provided object does not match the namespace sent on "
                                    "the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    def create(self, rt, version, namespace, name, sub):
        obj = self.parse_object()
        if rt.kind == "SelfSubjectAccessReview":  # no authorization here: everything is allowed
            obj.pop("status", None)
            obj["apiVersion"], obj["kind"] = rt.api_version(version), rt.kind
            obj.setdefault("metadata", {})["creationTimestamp"] = None
            obj["status"] = {"allowed": True}
            return self.send_json(201, obj)
        self.check_body_identity(rt, obj, namespace)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choice(string.ascii_lowercase + string.digits)
                                                          for _ in range(5))
        if not meta.get("name"):
            raise ApiError(422, "%s \"\" is invalid: metadata.name: Required value: name or generateName is "
                                "required" % rt.kind,
                           details={"kind": rt.kind, "group": rt.group,
                                    "causes": [{"reason": "FieldValueRequired", "message":
                                                "Required value: name or generateName is required",
                                                "field": "metadata.name"}]})
        err = self.require_namespace(rt, namespace)
        if err:
            raise err
        if self.store.get(rt, namespace, meta["name"]) is not None:
            details = {"name": meta["name"], "kind": rt.plural}
            if rt.group:
                details["group"] = rt.group
            raise ApiError(409, '%s "%s" already exists' % (rt.qualified(), meta["name"]), reason="AlreadyExists",
                           details=details)
        for key in SERVER_METADATA:
            meta.pop(key, None)
        stored = self.store.write(rt, version, obj, None, "Update", self.manager(), dry_run=self.dry_run())
        self.respond_object(201, rt, version, stored)

    def update(self, rt, version, namespace, name, sub):
        obj = self.parse_object()
        old = self.existing(rt, namespace, name)
        if sub == "scale":
            replicas = (obj.get("spec") or {}).get("replicas")
            return self.write_scale(rt, version, old, replicas)
        self.check_body_identity(rt, obj, namespace, name)
        given = obj["metadata"].get("resourceVersion")
        if given and given != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please "
                                "apply your changes to the latest version and try again" % (rt.qualified(), name),
                           details={"name": name, "group": rt.group, "kind": rt.plural})
        obj = self.with_subresource(rt, old, obj, sub)
        stored = self.store.write(rt, version, obj, old, "Update", self.manager(), dry_run=self.dry_run(),
                                  subresource=sub)
        self.respond_object(200, rt, version, stored)

    @staticmethod
    def with_subresource(rt, old, new, sub):
        """A status write changes only status; a main-resource write keeps the old status (see Store.write)."""
        if sub == "status":
            merged = copy.deepcopy(old)
            merged["status"] = new.get("status", {})
            return merged
        return new

    def patch(self, rt, version, namespace, name, sub):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/apply-patch+yaml":
            return self.apply(rt, version, namespace, name, sub)
        old = self.existing(rt, namespace, name)
        patch = self.parse_object()
        current = self.scale_of(old) if sub == "scale" else self.present(rt, version, old)
        if ctype == "application/json-patch+json":
            new = json_patch(current, patch)
        elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            if not isinstance(patch, dict):
                raise ApiError(400, "a merge patch must be a JSON object")
            new = merge_patch(current, patch, strategic=ctype.startswith("application/strategic"))
        else:
            raise ApiError(415, "the body of the request was in an unknown format - accepted media types include: "
                                "application/json-patch+json, application/merge-patch+json, "
                                "application/apply-patch+yaml, application/strategic-merge-patch+json")
        if sub == "scale":
            return self.write_scale(rt, version, old, (new.get("spec") or {}).get("replicas"))
        self.check_body_identity(rt, new, namespace, name)
        given = new["metadata"].get("resourceVersion")
        if given and given != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please "
                                "apply your changes to the latest version and try again" % (rt.qualified(), name))
        new = self.with_subresource(rt, old, new, sub)
        stored = self.store.write(rt, version, new, old, "Update", self.manager(), dry_run=self.dry_run(),
                                  subresource=sub)
        self.respond_object(200, rt, version, stored, sub)

    def apply(self, rt, version, namespace, name, sub):
        """Server-side apply: see the module comment for what is and is not modelled."""
        if not self.query.get("fieldManager"):
            raise ApiError(400, "PATCH %s: fieldManager is required for apply requests" % self.req_path)
        if sub is not None:
            raise ApiError(415, "this test server supports server-side apply on the main resource only")
        applied = self.parse_object()
        if not isinstance(applied, dict):
            raise ApiError(400, "an apply patch must be an object")
        self.check_body_identity(rt, applied, namespace, name)
        applied["metadata"]["name"] = name
        for key in SERVER_METADATA:
            applied["metadata"].pop(key, None)
        manager, force = self.query["fieldManager"], self.query.get("force") == "true"
        new_leaves = owned_leaves(applied)
        old = self.store.get(rt, namespace, name)
        if old is None:
            err = self.require_namespace(rt, namespace)
            if err:
                raise err
            stored = self.store.write(rt, version, copy.deepcopy(applied), None, "Apply", manager,
                                      fields=set(new_leaves), dry_run=self.dry_run())
            return self.respond_object(201, rt, version, stored)

        live = copy.deepcopy(old)
        entries = live["metadata"].get("managedFields") or []
        conflicts = []
        for entry in entries:
            if entry["manager"] == manager and entry["operation"] == "Apply":
                continue
            owned = fields_from_v1(entry.get("fieldsV1"))
            for path in sorted(owned):
                if any(paths_overlap(path, p) for p in new_leaves) and \
                        get_path(live, path) != get_path(applied, path):
                    conflicts.append((entry, path))
        if conflicts and not force:
            raise self.conflict_error(conflicts)
        if conflicts:  # force: the applier takes the fields over
            lost = {}
            for entry, path in conflicts:
                lost.setdefault(id(entry), set()).add(path)
            for entry in entries:
                if id(entry) in lost:
                    entry["fieldsV1"] = fields_to_v1(fields_from_v1(entry.get("fieldsV1")) - lost[id(entry)])
        mine = next((e for e in entries if e["manager"] == manager and e["operation"] == "Apply"), None)
        others = set()
        for entry in entries:
            if entry is not mine:
                others |= fields_from_v1(entry.get("fieldsV1"))
        for path in fields_from_v1((mine or {}).get("fieldsV1")) - set(new_leaves):
            if not any(paths_overlap(path, o) for o in others):
                delete_path(live, path)  # this manager stopped applying it and nobody else owns it
        merged = deep_merge(live, applied)
        stored = self.store.write(rt, version, merged, old, "Apply", manager, fields=set(new_leaves),
                                  dry_run=self.dry_run(), entries=entries)
        self.respond_object(200, rt, version, stored)

    @staticmethod
    def conflict_error(conflicts):
        def who(entry):
            if entry["operation"] == "Update":
                return '"%s" using %s' % (entry["manager"], entry.get("apiVersion", ""))
            return '"%s"' % entry["manager"]

        def dotted(path):
            return "." + ".".join(path)

        causes = [{"type": "FieldManagerConflict", "message": "conflict with %s" % who(e), "field": dotted(p)}
                  for e, p in conflicts]
        if len(conflicts) == 1:
            entry, path = conflicts[0]
            message = "Apply failed with 1 conflict: conflict with %s: %s" % (who(entry), dotted(path))
        else:
            lines, by_manager = [], {}
            for entry, path in conflicts:
                by_manager.setdefault(who(entry), []).append(dotted(path))
            for manager in sorted(by_manager):
                lines.append("conflicts with %s:" % manager)
                lines += ["- %s" % p for p in by_manager[manager]]
            message = "Apply failed with %d conflicts: %s" % (len(conflicts), "\n".join(lines))
        return ApiError(409, message, reason="Conflict", details={"causes": causes})

    def scale_of(self, obj):
        meta = obj["metadata"]
        selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in meta},
                "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": ",".join("%s=%s" % kv for kv in sorted(selector.items()))}}

    def write_scale(self, rt, version, old, replicas):
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Scale.autoscaling \"%s\" is invalid: spec.replicas: Invalid value" %
                           old["metadata"]["name"])
        new = copy.deepcopy(old)
        new.setdefault("spec", {})["replicas"] = replicas
        stored = self.store.write(rt, version, new, old, "Update", self.manager(), dry_run=self.dry_run(),
                                  subresource="scale")
        self.send_json(200, self.scale_of(stored))

    def delete_options(self):
        try:
            opts = json.loads(self.body) if self.body else {}
        except ValueError:
            opts = {}
        return opts if isinstance(opts, dict) else {}

    def delete_one(self, rt, version, namespace, name, sub):
        obj = self.existing(rt, namespace, name)
        dry = self.dry_run() or "All" in (self.delete_options().get("dryRun") or [])
        if rt.kind == "Namespace" and rt.group == "":
            shown = copy.deepcopy(obj)
            shown["metadata"]["deletionTimestamp"] = now_rfc3339()
            shown["status"] = {"phase": "Terminating"}
            if not dry:
                self.store.delete(rt, obj)
            return self.respond_object(200, rt, version, shown)
        if not dry:
            self.store.delete(rt, obj)
        details = {"name": name, "kind": rt.plural, "uid": obj["metadata"]["uid"]}
        if rt.group:
            details["group"] = rt.group
        self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "details": details})

    def delete_collection(self, rt, version, namespace, name, sub):
        items = self.selected(rt, namespace)
        dry = self.dry_run() or "All" in (self.delete_options().get("dryRun") or [])
        for obj in items:
            if not dry:
                self.store.delete(rt, obj)
        self.send_json(200, {"kind": rt.kind + "List", "apiVersion": rt.api_version(version),
                             "metadata": {"resourceVersion": str(self.store.rv)},
                             "items": [self.present(rt, version, o) for o in items]})

    # -- watch -------------------------------------------------------------------------------------------
    def watch(self, rt, version, namespace):
        store = self.store
        labels = parse_label_selector(self.query.get("labelSelector", ""))
        fields = parse_field_selector(self.query.get("fieldSelector", ""))
        timeout = float(self.query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + min(timeout, 1800)
        since = self.query.get("resourceVersion", "")
        initial_events = self.query.get("sendInitialEvents") == "true"

        def matches(obj):
            return labels(obj["metadata"].get("labels")) and fields(obj)

        with store.cond:
            first = []
            if since in ("", "0") or initial_events:
                first = [("ADDED", o) for o in self.selected(rt, namespace)]
                cursor = len(store.events)
            else:
                try:
                    since_rv = int(since)
                except ValueError:
                    raise ApiError(400, "invalid resourceVersion %r" % since)
                cursor = len(store.events)
                while cursor > 0 and store.events[cursor - 1][0] > since_rv:
                    cursor -= 1
            current_rv = store.rv
        self.status_code = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.close_connection = True

        def send(event_type, obj):
            data = json.dumps({"type": event_type, "object": obj}).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        try:
            for event_type, obj in first:
                send(event_type, self.present(rt, version, obj))
            if initial_events:
                send("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version(version),
                                  "metadata": {"resourceVersion": str(current_rv),
                                               "annotations": {"k8s.io/initial-events-end": "true"}}})
            while time.monotonic() < deadline:
                with store.cond:
                    if cursor >= len(store.events):
                        store.cond.wait(timeout=0.25)
                    fresh = store.events[cursor:]
                    cursor = len(store.events)
                for _, event_type, group, plural, ns, obj in fresh:
                    if (group, plural) == (rt.group, rt.plural) and namespace in (None, ns) and matches(obj):
                        send(event_type, self.present(rt, version, obj))
                if self.client_gone():
                    return
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return

    def client_gone(self):
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
        return False


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--state-dump")
    parser.add_argument("--unauthorized", action="store_true", help="answer every API request with 401")
    args = parser.parse_args()

    store = Store()
    Handler.store = store
    Handler.unauthorized = args.unauthorized
    server = Server(("127.0.0.1", args.port), Handler)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()

    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, args.port_file)

    while not stop.wait(0.02):  # short, so a SIGTERM is acted on at once
        pass
    server.shutdown()
    if args.state_dump:
        with store.cond:
            objects = store.all_objects()
        with open(args.state_dump + ".tmp", "w") as f:
            json.dump(objects, f, indent=1, sort_keys=True)
        os.replace(args.state_dump + ".tmp", args.state_dump)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
