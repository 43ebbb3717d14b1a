#!/usr/bin/env python3
"""A stand-alone scorer that replaces coderig's `score` stage, using only the JSON Schemas.

It imports nothing from coderig: it reads a generate output from the run store (checking the files'
sha256 against the manifest), runs each sample's code against each test case in its own `python3 -I`
subprocess (inside `unshare -n` when available), and publishes a score output (results.jsonl and a
manifest) that validates against schemas/json/*.schema.json, so coderig's analyze and export stages can
consume it. It shows what a replacement stage needs; it is deliberately simple (no warm workers, no
calibrated timeouts), not a substitute for coderig-score's sandbox.

Usage: standalone_score.py --runs RUNS --generate generate/<name>[/<key>] --schemas schemas/json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import jsonschema

TOOL, VERSION = "standalone-score", "1.0"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_schema(schemas: Path, name: str) -> jsonschema.Draft202012Validator:
    files = sorted(schemas.glob(f"{name}.v*.schema.json"))
    if not files:
        sys.exit(f"error: no {name} schema in {schemas}")
    return jsonschema.Draft202012Validator(json.loads(files[-1].read_text()))


def resolve(runs: Path, ref: str) -> Path:
    if (Path(ref) / "manifest.json").is_file():
        return Path(ref)
    parts = ref.strip("/").split("/")
    if len(parts) == 3 and parts[2] != "latest":
        return runs / ref
    base = runs / parts[0] / parts[1]
    versions = [d for d in base.iterdir() if (d / "manifest.json").is_file()] if base.is_dir() else []
    if not versions:
        sys.exit(f"error: no published output {ref} in {runs}")
    return max(versions, key=lambda d: json.loads((d / "manifest.json").read_text())["created_at"])


def read_verified(out: Path, manifest: dict, rel: str, validator: jsonschema.Draft202012Validator) -> tuple[list[dict], dict]:
    entry = next(e for e in manifest["outputs"] if e["path"] == rel)
    if sha256(out / rel) != entry["sha256"]:
        sys.exit(f"error: {out / rel}: sha256 does not match the manifest")
    records = []
    for lineno, line in enumerate((out / rel).read_text().splitlines(), 1):
        rec = json.loads(line)
        errors = sorted(validator.iter_errors(rec), key=lambda e: list(e.path))
        if errors:
            sys.exit(f"error: {out / rel}:{lineno}: {'.'.join(map(str, errors[0].path))}: {errors[0].message}")
        records.append(rec)
    return records, {"path": rel, "sha256": entry["sha256"], "size": entry["size"], "records": len(records)}


HARNESS = r'''
import json, sys, time, traceback
chan = open(sys.argv[1], "w")
token = sys.argv[2]
ns = {}
src = sys.stdin.read()
spec = json.loads(src)
def report(**kw):
    kw["token"] = token
    chan.write(json.dumps(kw) + "\n"); chan.flush()
try:
    exec(spec["imports"], ns)  # the contract's order: test imports, candidate, setup code, preamble
except BaseException as e:
    report(kind="load_error", exc=type(e).__name__, msg=str(e)); raise SystemExit
try:
    exec(compile(spec["code"], "<candidate>", "exec"), ns)
except SyntaxError as e:
    report(kind="syntax", msg=str(e)); raise SystemExit
except BaseException as e:
    report(kind="load_error", exc=type(e).__name__, msg=str(e)); raise SystemExit
try:
    exec(spec["prelude"], ns)
except BaseException as e:
    report(kind="load_error", exc=type(e).__name__, msg=str(e)); raise SystemExit
for t in spec["tests"]:
    t0 = time.perf_counter()
    try:
        exec(t["code"], dict(ns))
        report(kind="test", id=t["test_id"], ok=True, dt=time.perf_counter() - t0)
    except BaseException as e:
        report(kind="test", id=t["test_id"], ok=False, exc=type(e).__name__, msg=str(e)[:300], dt=time.perf_counter() - t0)
'''


def score_sample(problem: dict, sample: dict, timeout: float) -> dict:
    tests = problem["tests"]
    base = {k: sample[k] for k in ("sample_id", "problem_id", "dataset", "split", "sample_index", "seed", "model_name")}
    base.update(
        difficulty=problem.get("difficulty"), tests_total=len(tests),
        visible_total=sum(t["visibility"] == "visible" for t in tests),
        hidden_total=sum(t["visibility"] == "hidden" for t in tests),
    )
    zero = {"tests_passed": 0, "visible_passed": 0, "hidden_passed": 0, "tests": []}
    if not sample["extracted_code"].strip():
        return {**base, **zero, "verdict": "no_code", "passed": False, "duration_s": 0.0}
    imports = "\n".join(problem.get("test_imports", []))
    prelude = "\n".join([problem.get("setup_code", ""), problem.get("test_preamble", "")])
    spec = json.dumps({"imports": imports, "code": sample["extracted_code"], "prelude": prelude, "tests": tests})
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="alt-score-") as tmp:
        chan = Path(tmp) / "channel.jsonl"
        cmd = [sys.executable, "-I", "-c", HARNESS, str(chan), token]
        if shutil.which("unshare") and os.geteuid() == 0:
            cmd = ["unshare", "-n", *cmd]
        t0 = time.perf_counter()
        try:
            subprocess.run(cmd, input=spec, text=True, capture_output=True, timeout=timeout, cwd=tmp, env={"PATH": "/usr/bin:/bin"})
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        elapsed = time.perf_counter() - t0
        reports = []
        if chan.exists():
            for line in chan.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if rec.get("token") == token:
                    reports.append(rec)
    done = {r["id"]: r for r in reports if r.get("kind") == "test"}
    outcomes = []
    for t in tests:
        r = done.get(t["test_id"])
        status = "not_run" if r is None else ("passed" if r["ok"] else ("failed" if r.get("exc") == "AssertionError" else "error"))
        outcomes.append({"test_id": t["test_id"], "visibility": t["visibility"], "status": status,
                         "duration_s": float(r["dt"]) if r else 0.0,
                         "exception_type": r.get("exc") if r else None, "error_message": r.get("msg") if r else None})
    passed_ids = {o["test_id"] for o in outcomes if o["status"] == "passed"}
    first_bad = next((o for o in outcomes if o["status"] != "passed"), None)
    load = next((r for r in reports if r.get("kind") in ("syntax", "load_error")), None)
    if load and load["kind"] == "syntax":
        verdict = "syntax_error"
    elif timed_out:
        verdict = "timeout"
    elif load:
        verdict = "runtime_error"
    elif first_bad is None:
        verdict = "passed"
    elif first_bad["status"] == "failed":
        verdict = "wrong_answer"
    else:
        verdict = "runtime_error"
    if verdict != "passed" and sample.get("finish_reason") == "length":
        verdict = "truncated_generation"
    return {
        **base, "verdict": verdict, "passed": verdict == "passed",
        "exception_type": (load or {}).get("exc") or (first_bad or {}).get("exception_type"),
        "error_message": (load or {}).get("msg") or (first_bad or {}).get("error_message"),
        "failing_test_id": first_bad["test_id"] if first_bad else None,
        "tests_passed": len(passed_ids),
        "visible_passed": sum(t["visibility"] == "visible" and t["test_id"] in passed_ids for t in tests),
        "hidden_passed": sum(t["visibility"] == "hidden" and t["test_id"] in passed_ids for t in tests),
        "tests": outcomes, "duration_s": round(elapsed, 6),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, required=True)
    ap.add_argument("--generate", required=True, help="generate/<name>[/<key>]")
    ap.add_argument("--schemas", type=Path, required=True, help="directory of coderig's JSON Schema files")
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()
    started = datetime.now(UTC)
    gen = resolve(args.runs, args.generate)
    gen_manifest_raw = (gen / "manifest.json").read_bytes()
    gen_manifest = json.loads(gen_manifest_raw)
    load_schema(args.schemas, "manifest").validate(gen_manifest)
    problems, pf = read_verified(gen, gen_manifest, "problems.jsonl", load_schema(args.schemas, "problem"))
    samples, sf = read_verified(gen, gen_manifest, "samples.jsonl", load_schema(args.schemas, "sample"))
    by_id = {p["problem_id"]: p for p in problems}
    result_schema = load_schema(args.schemas, "score_result")
    results = [score_sample(by_id[s["problem_id"]], s, args.timeout) for s in samples]
    for r in results:
        result_schema.validate(r)

    config = {"scorer": TOOL, "timeout": args.timeout}
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    gen_sha = hashlib.sha256(gen_manifest_raw).hexdigest()
    key = hashlib.sha256(f"{TOOL}:{config_hash}:{gen_sha}".encode()).hexdigest()[:16]
    name = gen_manifest["name"]
    final = args.runs / "score" / name / key
    if (final / "manifest.json").is_file():
        print(final)
        return
    staging = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=args.runs))
    staging.chmod(0o755)  # mkdtemp makes it 0700: the next stages may run as other users
    body = "".join(json.dumps(r) + "\n" for r in results).encode()
    (staging / "results.jsonl").write_bytes(body)
    manifest = {
        "schema_version": 2, "stage": "score", "name": name, "key": key, "tool": TOOL, "tool_version": VERSION,
        "git_sha": None, "created_at": datetime.now(UTC).isoformat(), "started_at": started.isoformat(),
        "config": config, "config_hash": config_hash,
        "inputs": [{"ref": f"generate/{name}/{gen_manifest['key']}", "manifest_sha256": gen_sha, "files": [
            {k: v for k, v in f.items()} for f in (pf, sf)]}],
        "outputs": [{"path": "results.jsonl", "sha256": hashlib.sha256(body).hexdigest(), "size": len(body),
                     "records": len(results), "schema_name": "score_result"}],
        "environment": {"python": platform.python_version(), "platform": platform.platform(), "hostname": socket.gethostname(),
                        "cpu": f"{platform.processor() or 'cpu'} x{os.cpu_count()}", "accelerator": "cpu", "packages": {}},
        "timings": {"score": round((datetime.now(UTC) - started).total_seconds(), 3)},
        "stats": {"samples": len(results), "passed": sum(r["passed"] for r in results)},
    }
    load_schema(args.schemas, "manifest").validate(manifest)
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
    final.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staging, final)
    print(final)


if __name__ == "__main__":
    main()
