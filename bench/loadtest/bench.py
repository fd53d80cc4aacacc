#!/usr/bin/env python3
"""Benchmark slipway's load-test engine against wrk and hey on a local nginx-light.

One run, tools alternated round by round, medians of --rounds (default 3), ratios printed at the end:

  file  GET a 1 KiB file, closed model, C connections, T threads, D seconds:
        slipway req/s vs wrk (same connections and threads; target >= 0.9x) and vs hey (target >= 1.5x)
  204   GET a `return 204` location (the generator is the limit):
        CPU time per request, (user+sys)/requests, slipway vs wrk (target <= 1.5x)
  rss   (opt-in, --rss) slipway's max RSS after --rss-requests requests (default 10 million; target < 50 MiB)

nginx runs with its own config, prefix and pid file in a temp dir on a free 127.0.0.1 port, with
--nginx-workers worker processes, and is stopped at the end. All traffic stays on 127.0.0.1.

  bench/loadtest/bench.py --slipway build/cmd/slipway [--threads 1] [--connections 64] [--duration 5]
                          [--rounds 3] [--rss | --rss-only] [--json FILE]

The slipway binary must have the `loadtest` subcommand (the tests' loadtest_cli works too).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, binary, workers):
        self.dir = tempfile.mkdtemp(prefix="slipway-bench-nginx-")
        os.makedirs(os.path.join(self.dir, "html"))
        with open(os.path.join(self.dir, "html", "1k.bin"), "wb") as f:
            f.write(b"x" * 1024)
        self.port = free_port()
        d = self.dir
        conf = f"""
daemon off;
master_process on;
worker_processes {workers};
user root;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path {d}/tmp_body; proxy_temp_path {d}/tmp_proxy; fastcgi_temp_path {d}/tmp_fcgi;
  uwsgi_temp_path {d}/tmp_uwsgi; scgi_temp_path {d}/tmp_scgi;
  server {{
    listen 127.0.0.1:{self.port} backlog=4096;
    root {d}/html;
    location = /204 {{ return 204; }}
  }}
}}
"""
        if os.geteuid() != 0:
            conf = conf.replace("user root;\n", "")
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen([binary, "-p", d, "-c", f"{d}/nginx.conf", "-e", f"{d}/error.log"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        for _ in range(250):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
        err = open(os.path.join(d, "error.log")).read() if os.path.exists(os.path.join(d, "error.log")) else ""
        self.stop()
        raise RuntimeError("nginx did not start: " + err)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_measured(argv):
    """Runs argv; returns (stdout, user+sys CPU seconds, max RSS in KiB, wall seconds)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # wait4: the child's own rusage
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {err.read().decode(errors='replace')[-2000:]}")
    return text, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, wall


def slipway(args, url, connections, seconds=None, requests=None):
    argv = [args.slipway, "loadtest", url, "--vus", str(connections), "--threads", str(args.threads), "--output", "json"]
    if seconds:
        argv += ["--duration", f"{seconds}s"]
    if requests:
        argv += ["--requests", str(requests)]
    out, cpu, rss, wall = run_measured(argv)
    j = json.loads(out)
    if j["errors"]:
        raise RuntimeError(f"slipway saw {j['errors']} errors: {j['errors_by_cause']}")
    return {"requests": j["requests"], "rps": j["rps"], "cpu": cpu, "rss_kib": rss, "wall": wall}


def wrk(args, url, connections, seconds):
    out, cpu, rss, wall = run_measured(["wrk", "-t", str(args.threads), "-c", str(connections), "-d", f"{seconds}s", url])
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m or not rps:
        raise RuntimeError("cannot read wrk output:\n" + out)
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError("wrk saw errors:\n" + out)
    return {"requests": int(m.group(1)), "rps": float(rps.group(1)), "cpu": cpu, "rss_kib": rss, "wall": wall}


def hey(args, url, connections, seconds):
    out, cpu, rss, wall = run_measured(["hey", "-z", f"{seconds}s", "-c", str(connections), url])
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    codes = re.findall(r"\[(\d+)\]\s+(\d+) responses", out)
    if not rps or not codes:
        raise RuntimeError("cannot read hey output:\n" + out)
    total = sum(int(n) for _, n in codes)
    return {"requests": total, "rps": float(rps.group(1)), "cpu": cpu, "rss_kib": rss, "wall": wall}


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--slipway", default=shutil.which("slipway"), help="the slipway binary (default: from PATH)")
    p.add_argument("--nginx", default="/usr/sbin/nginx")
    p.add_argument("--nginx-workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="generator threads, the same for slipway and wrk")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rss", action="store_true", help="also measure RSS after --rss-requests requests (slow)")
    p.add_argument("--rss-requests", type=int, default=10_000_000)
    p.add_argument("--rss-only", action="store_true", help="only the RSS measurement")
    p.add_argument("--skip-hey", action="store_true")
    p.add_argument("--json", help="write the medians and ratios here")
    args = p.parse_args()
    if not args.slipway or not os.access(args.slipway, os.X_OK):
        sys.exit("bench.py: give --slipway PATH (a binary with the loadtest subcommand)")
    for tool in ["wrk"] + ([] if args.skip_hey else ["hey"]):
        if not shutil.which(tool):
            sys.exit(f"bench.py: {tool} is not installed")

    nginx = Nginx(args.nginx, args.nginx_workers)
    results = {}
    try:
        file_url, empty_url = nginx.url("/1k.bin"), nginx.url("/204")
        c, d = args.connections, args.duration
        if args.rss_only:
            print(f"  rss: {args.rss_requests} requests ...", flush=True)
            r = slipway(args, empty_url, c, requests=args.rss_requests)
            print(f"  RSS          {r['rss_kib'] / 1024:.1f} MiB after {r['requests']} requests ({r['wall']:.0f} s) "
                  f"(target < 50 MiB) {'ok' if r['rss_kib'] / 1024 < 50 else 'MISS'}")
            return
        # Warm up nginx and the page cache.
        slipway(args, file_url, c, requests=20000)
        file_runs = {"slipway": [], "wrk": [], "hey": []}
        empty_runs = {"slipway": [], "wrk": []}
        for rnd in range(args.rounds):
            # Alternate the order each round so drift on a shared machine does not favour one tool.
            order = ["slipway", "wrk", "hey"] if rnd % 2 == 0 else ["hey", "wrk", "slipway"]
            for tool in order:
                if tool == "hey" and args.skip_hey:
                    continue
                if tool == "slipway":
                    r = slipway(args, file_url, c, seconds=d)
                else:
                    r = {"wrk": wrk, "hey": hey}[tool](args, file_url, c, d)
                file_runs[tool].append(r)
                print(f"  file round {rnd + 1} {tool:8s} {r['rps']:10.0f} req/s  "
                      f"{1e6 * r['cpu'] / r['requests']:6.2f} us CPU/req", flush=True)
            for tool in (["slipway", "wrk"] if rnd % 2 == 0 else ["wrk", "slipway"]):
                r = slipway(args, empty_url, c, seconds=d) if tool == "slipway" else wrk(args, empty_url, c, d)
                empty_runs[tool].append(r)
                print(f"  204  round {rnd + 1} {tool:8s} {r['rps']:10.0f} req/s  "
                      f"{1e6 * r['cpu'] / r['requests']:6.2f} us CPU/req", flush=True)

        def cpu_per_req(runs):
            return statistics.median(r["cpu"] / r["requests"] for r in runs)

        s_rps, w_rps = median(file_runs["slipway"], "rps"), median(file_runs["wrk"], "rps")
        results["file"] = {"slipway_rps": s_rps, "wrk_rps": w_rps, "ratio_vs_wrk": s_rps / w_rps}
        if not args.skip_hey:
            h_rps = median(file_runs["hey"], "rps")
            results["file"].update({"hey_rps": h_rps, "ratio_vs_hey": s_rps / h_rps})
        s_cpu, w_cpu = cpu_per_req(empty_runs["slipway"]), cpu_per_req(empty_runs["wrk"])
        results["204"] = {"slipway_us_per_req": 1e6 * s_cpu, "wrk_us_per_req": 1e6 * w_cpu, "cpu_ratio_vs_wrk": s_cpu / w_cpu,
                          "slipway_rps": median(empty_runs["slipway"], "rps"), "wrk_rps": median(empty_runs["wrk"], "rps")}
        if args.rss:
            print(f"  rss: {args.rss_requests} requests ...", flush=True)
            r = slipway(args, empty_url, c, requests=args.rss_requests)
            results["rss"] = {"requests": r["requests"], "max_rss_mib": r["rss_kib"] / 1024, "seconds": r["wall"]}
    finally:
        nginx.stop()

    f, e = results["file"], results["204"]
    print()
    print(f"slipway loadtest benchmark: {args.connections} connections, {args.threads} thread(s), {args.duration} s, "
          f"nginx {args.nginx_workers} worker(s), median of {args.rounds}")
    ok = lambda cond: "ok" if cond else "MISS"
    print(f"  1 KiB file   slipway {f['slipway_rps']:9.0f} req/s   wrk {f['wrk_rps']:9.0f}   "
          f"ratio {f['ratio_vs_wrk']:.2f}x (target >= 0.90x) {ok(f['ratio_vs_wrk'] >= 0.9)}")
    if "hey_rps" in f:
        print(f"                                        hey {f['hey_rps']:9.0f}   "
              f"ratio {f['ratio_vs_hey']:.2f}x (target >= 1.50x) {ok(f['ratio_vs_hey'] >= 1.5)}")
    print(f"  return 204   slipway {e['slipway_us_per_req']:6.2f} us CPU/req   wrk {e['wrk_us_per_req']:6.2f}   "
          f"ratio {e['cpu_ratio_vs_wrk']:.2f}x (target <= 1.50x) {ok(e['cpu_ratio_vs_wrk'] <= 1.5)}")
    if "rss" in results:
        r = results["rss"]
        print(f"  RSS          {r['max_rss_mib']:.1f} MiB after {r['requests']} requests "
              f"({r['seconds']:.0f} s) (target < 50 MiB) {ok(r['max_rss_mib'] < 50)}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
