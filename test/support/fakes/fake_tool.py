#!/usr/bin/env python3
"""A recording fake for istioctl, linkerd and velero: checks the exact argv and stdin it is called with and
plays back scripted outputs. Launched as `fake_tool.py TOOL ARGS...` by the thin scripts in bin/.

Environment
  FAKE_TOOLS_SCRIPT   JSON file: {"istioctl": [ENTRY, ...], "linkerd": [...], "velero": [...]}
  FAKE_TOOLS_LOG      JSON-lines file every call is appended to (optional)
  FAKE_TOOLS_STATE    where the per-tool position in the script is kept (default: FAKE_TOOLS_SCRIPT + ".state")
  FAKE_TOOLS_LOG_ENV  comma-separated extra environment variable names to record in the log

ENTRY (format)
  "argv": [...]            the exact arguments after the tool name, or
  "argv_prefix": [...]     the arguments must start with these
  "stdin_contains": [...]  optional; every string must occur in stdin
  "env": {"NAME": "v"}     optional; the call's environment must have these values (null: must be unset)
  "repeat": true           optional; see matching below
  "stdout", "stderr": text, "exit": code (default 0)
  "canned": "istioctl.analyze", "params": {...}   optional; outputs from canned.py (stdout/stderr/exit above
                           override them)
  "sleep": seconds         optional; wait before answering (to test timeouts)
  "then": [[argv], ...]    optional; commands run (with the fake's environment) after the entry matched and
                           before it answers: the real tool's effect on the world, e.g. `kubectl apply -f
                           istiod.yaml` for `istioctl install`, so the checks that follow hit the real cluster.
                           A failing command makes the fake exit with its code and stderr.

Matching: entries without "repeat" form an ordered sequence per tool and are consumed one by one; a call
must match the next one. Entries with "repeat": true sit outside the sequence and match any number of
times at any point (probes such as `linkerd version --client --short`); the next sequence entry is tried first.
A call that matches nothing prints
    fake <tool>: unexpected call: <argv as JSON>; expected <next expected argv as JSON>
to stderr and exits 97. Calls from parallel processes are serialised with a file lock.

Log line: {"tool", "argv", "stdin", "cwd", "env": {selected variables that are set}, "entry": index in
the tool's list or null, "exit", "time"}. Recorded variables: KUBECONFIG, HELM_*, ISTIOCTL_*, LINKERD_*, VELERO_*,
and those named in FAKE_TOOLS_LOG_ENV.
"""

import fcntl
import json
import os
import stat
import subprocess
import sys
import time

UNEXPECTED_EXIT = 97
RECORDED_ENV_PREFIXES = ("HELM_", "ISTIOCTL_", "LINKERD_", "VELERO_")


def fail(tool, message):
    sys.stderr.write("fake %s: %s\n" % (tool, message))
    sys.exit(UNEXPECTED_EXIT)


def read_stdin():
    """Reads stdin unless it is a terminal (a person running the fake by hand)."""
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return ""
    if os.isatty(0) or not (stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)):
        return ""
    return sys.stdin.buffer.read().decode("utf-8", "replace")


def matches(entry, argv, stdin):
    if "argv" in entry and entry["argv"] != argv:
        return False
    if "argv_prefix" in entry and argv[:len(entry["argv_prefix"])] != entry["argv_prefix"]:
        return False
    if not any(k in entry for k in ("argv", "argv_prefix")):
        return False
    if any(text not in stdin for text in entry.get("stdin_contains", [])):
        return False
    for name, value in (entry.get("env") or {}).items():
        if os.environ.get(name) != value:
            return False
    return True


def describe(entry):
    if entry is None:
        return "no further calls"
    text = json.dumps(entry["argv"]) if "argv" in entry else \
        "argv starting with %s" % json.dumps(entry.get("argv_prefix"))
    if entry.get("stdin_contains"):
        text += " with stdin containing %s" % json.dumps(entry["stdin_contains"])
    if entry.get("env"):
        text += " with env %s" % json.dumps(entry["env"], sort_keys=True)
    return text


def recorded_env():
    names = {"KUBECONFIG"}
    names |= {n.strip() for n in os.environ.get("FAKE_TOOLS_LOG_ENV", "").split(",") if n.strip()}
    names |= {n for n in os.environ if n.startswith(RECORDED_ENV_PREFIXES)}
    return {n: os.environ[n] for n in sorted(names) if n in os.environ}


def outputs(tool, entry):
    result = {"stdout": "", "stderr": "", "exit": 0}
    if entry.get("canned"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import canned  # noqa: E402  (next to this file)
        try:
            result.update(canned.render(entry["canned"], entry.get("params")))
        except (KeyError, TypeError) as exc:
            fail(tool, "bad canned entry %s: %s" % (json.dumps(entry["canned"]), exc))
    for key in ("stdout", "stderr", "exit"):
        if key in entry:
            result[key] = entry[key]
    return result


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: fake_tool.py TOOL [ARGS...]\n")
        return 2
    tool, args = argv[1], argv[2:]
    script_path = os.environ.get("FAKE_TOOLS_SCRIPT")
    if not script_path:
        fail(tool, "FAKE_TOOLS_SCRIPT is not set; unexpected call: %s" % json.dumps(args))
    try:
        with open(script_path) as f:
            script = json.load(f)
    except (OSError, ValueError) as exc:
        fail(tool, "cannot read FAKE_TOOLS_SCRIPT %s: %s" % (script_path, exc))
    entries = script.get(tool, [])
    stdin = read_stdin()
    state_path = os.environ.get("FAKE_TOOLS_STATE") or script_path + ".state"
    log_path = os.environ.get("FAKE_TOOLS_LOG")

    with open(state_path, "a+") as state_file:
        fcntl.flock(state_file, fcntl.LOCK_EX)  # released when the file closes
        state_file.seek(0)
        text = state_file.read()
        state = json.loads(text) if text.strip() else {}
        position = state.get(tool, 0)  # index into the tool's entries of the next sequence entry
        ordered = [i for i, e in enumerate(entries) if not e.get("repeat")]
        pending = [i for i in ordered if i >= position]
        chosen = None
        if pending and matches(entries[pending[0]], args, stdin):
            chosen = pending[0]
            state[tool] = chosen + 1
        else:
            chosen = next((i for i, e in enumerate(entries) if e.get("repeat") and matches(e, args, stdin)), None)
        entry = entries[chosen] if chosen is not None else None
        result = outputs(tool, entry) if entry is not None else \
            {"stdout": "", "exit": UNEXPECTED_EXIT,
             "stderr": "fake %s: unexpected call: %s; expected %s\n" % (
                 tool, json.dumps(args), describe(entries[pending[0]] if pending else None))}
        state_file.seek(0)
        state_file.truncate()
        state_file.write(json.dumps(state))
        state_file.flush()
        if log_path:
            record = {"tool": tool, "argv": args, "stdin": stdin, "cwd": os.getcwd(), "env": recorded_env(),
                      "entry": chosen, "exit": result["exit"], "time": time.time()}
            with open(log_path, "a") as log:
                log.write(json.dumps(record) + "\n")

    if entry is not None and entry.get("sleep"):
        time.sleep(float(entry["sleep"]))
    for command in (entry or {}).get("then", []):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write("fake %s: side effect %s failed (exit %d): %s%s" % (
                tool, json.dumps(command), done.returncode, done.stdout, done.stderr))
            return done.returncode
    sys.stdout.write(result["stdout"])
    sys.stdout.flush()
    sys.stderr.write(result["stderr"])
    sys.stderr.flush()
    return int(result["exit"])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
