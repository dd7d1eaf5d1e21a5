"""GPU benchmark of the vision engine: fp16/bf16, static cache, CUDA graphs (issue 14; by hand, never a test).

For each precision asked for, a fresh process loads the model with
`loader.load_model(..., device=DEVICE, precision=P)` (load time, peak GPU memory, peak RSS)
and times three ways of decoding the same work, one picture's caption and three follow-up
questions, side by side:

  (a) app       the app's path as it is: `ImageSession` (encode once, dynamic cache, the kept
                prompt prefix for follow-ups);
  (b) static    the language model's `generate` on the same inputs (inputs_embeds built as
                ImageSession builds them, the same prompts and settings) with a static cache:
                by default one `StaticCache`, sized for the longest request, made once and reset
                before each request, so its tensors keep their addresses (`--static per-call`:
                `cache_implementation="static"`, a new cache per request); transformers'
                automatic compilation is switched off (`disable_compile=True`), so (b) is eager;
  (c) graphs    (b) with `torch.compile(language_model.forward, mode="reduce-overhead",
                fullgraph=False)` (CUDA graphs on CUDA); skipped with `--no-compile`.

Lengths are forced (greedy, min_new_tokens = max_new_tokens), because the bench model's weights
are random. Every token is timestamped by a streamer clock (bench/engine.py's TokenClock, with
`torch.cuda.synchronize()` on CUDA); each setup runs untimed warm-up rounds first (two for (c),
since CUDA graphs are recorded on the second run; their time, which holds the compilation, is
reported apart), then `--repeats` timed rounds whose medians are reported. A setup that raises
is reported as "did not run: <reason>" and the others still run. The tokens of (b) and (c) are
compared with (a)'s (in fp16/bf16 they may differ a little: reported, not a failure).

    # on a GPU machine (builds the real-size random blip2-opt-2.7b once, as bench/engine.py does):
    python bench/gpu_engine.py --device cuda --precision fp16,bf16
    # the check that the script runs end to end, on the CPU with a tiny model (under a minute;
    # without --no-compile, (c) compiles with inductor's C++ backend: no CUDA graphs on a CPU,
    # and "did not run: ..." where there is no C++ compiler):
    OMP_NUM_THREADS=1 .venv/bin/python bench/gpu_engine.py --device cpu --tiny --precision bf16 --no-compile

It prints a Markdown table and writes the figures, with the machine (GPU name, CUDA, torch),
as JSON to bench/out/gpu-engine-<time>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for _path in (str(REPO), str(REPO / "bench")):
    if _path not in sys.path:
        sys.path.insert(0, _path)  # so `python bench/gpu_engine.py` finds desktop_app and engine.py

import engine  # bench/engine.py: build(), _picture(), TokenClock, MemorySampler, machine()

SETUPS = ("app", "static", "graphs")
SETUP_NAMES = {
    "app": "(a) ImageSession, dynamic cache",
    "static": "(b) static cache",
    "graphs": "(c) static cache + torch.compile reduce-overhead",
}
GIB = 2**30


def one_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception, for "did not run: ..."."""
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- measuring (in a fresh process per precision) ------------------------------------------------

class SyncedClock(engine.TokenClock):
    """TokenClock that waits for the device before each timestamp (a no-op on the CPU)."""

    def __init__(self, sync: Any) -> None:
        self._sync = sync
        sync()
        super().__init__()

    def put(self, value: Any) -> None:
        self._sync()
        super().put(value)

    def summary(self) -> dict[str, float]:
        self._sync()
        return super().summary()


def measure(folder: Path, device: str, precision: str, threads: int, caption_tokens: int, answer_tokens: int,
            n_questions: int, repeats: int, compile_graphs: bool, static_mode: str) -> dict[str, Any]:
    """Load the model in `precision` on `device` and time the three setups."""
    import torch

    from desktop_app.models import vision_catalog as catalog
    from desktop_app.vision import loader
    from desktop_app.vision.session import ImageSession

    torch.set_num_threads(threads)
    cuda = device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("CUDA was asked for but torch sees no GPU here.")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    def gpu_peak() -> float | None:
        return torch.cuda.max_memory_allocated() / GIB if cuda else None

    def reset_peak() -> None:
        if cuda:
            torch.cuda.reset_peak_memory_stats()

    # ---- load ----
    reset_peak()
    sampler = engine.MemorySampler()
    sampler.start()
    loaded = loader.load_model(catalog.resolve(str(folder)), device=device, precision=precision,
                               allow_cpu_fallback=False)
    sync()
    rss = sampler.stop()
    load = {"load_s": loaded.load_ms / 1000, "device": loaded.device, "precision": loaded.precision,
            "note": loaded.note, "peak_gpu_gib": gpu_peak(), "peak_rss_gib": rss["VmRSS"] / GIB,
            "params": sum(p.numel() for p in loaded.model.parameters())}
    print(f"[{precision}] loaded on {loaded.device} in {loaded.precision}: {load['load_s']:.1f} s", flush=True)

    greedy = {"num_beams": 1, "do_sample": False}
    caption_settings = {**greedy, "max_new_tokens": caption_tokens, "min_new_tokens": caption_tokens}
    answer_settings = {**greedy, "max_new_tokens": answer_tokens, "min_new_tokens": answer_tokens}
    spec = replace(loaded.spec, caption_generation=caption_settings, answer_generation=answer_settings)
    loaded.spec = spec
    questions = [engine.QUESTIONS[i % len(engine.QUESTIONS)] for i in range(n_questions)]
    image = engine._picture()
    lm = loaded.model.language_model

    # ---- (a) the app's path ----
    def app_round() -> dict[str, Any]:
        session = ImageSession(loaded, image)
        steps: list[dict[str, Any]] = []
        prompts: list[str] = []
        sync()
        start = time.perf_counter()
        session.encode()
        sync()
        encode_ms = (time.perf_counter() - start) * 1000
        for what in ["caption", *questions]:
            settings = caption_settings if what == "caption" else answer_settings
            clock = SyncedClock(sync)
            session.spec = replace(spec, caption_generation={**settings, "streamer": clock},
                                   answer_generation={**settings, "streamer": clock})
            if what == "caption":
                prompts.append(spec.caption_prompt)
                session.caption()
            else:
                prompts.append(spec.prompt_for(what, list(session._context)))
                session.ask(what)
            steps.append({"what": what, **clock.summary(), "ids": list(session._last_ids)})
        sync()
        return {"encode_ms": encode_ms, "steps": steps, "total_ms": (time.perf_counter() - start) * 1000,
                "prompts": prompts}

    # ---- (b)/(c) generate with a static cache on the same inputs ----
    state: dict[str, Any] = {}
    # transformers 5.x renamed generate's `past_key_values` to `cache` (as prefix_cache.py checks).
    from transformers import GenerationConfig

    has_max_cache_len = hasattr(GenerationConfig(), "max_cache_len")
    cache_kwarg = "cache" if "cache" in inspect.signature(lm.forward).parameters else "past_key_values"

    def new_static_cache(static_cache: Any) -> Any:
        """One StaticCache for every request, its tensors made now (not lazily inside a compiled
        forward), so that their addresses never change."""
        cache = static_cache(config=lm.config, max_cache_len=state["max_cache_len"])
        shape = lm._get_static_cache_init_shape() if hasattr(lm, "_get_static_cache_init_shape") else None
        if shape is not None and hasattr(cache, "early_initialization"):
            try:
                cache.early_initialization(batch_size=1, num_heads=shape[0], head_dim=shape[1], dtype=lm.dtype,
                                           device=lm.device)
            except (TypeError, ValueError) as exc:  # another transformers: the first request makes them
                state["early_init"] = one_line(exc)
                return static_cache(config=lm.config, max_cache_len=state["max_cache_len"])
            state["early_init"] = "yes"
        return cache

    def static_round(prompts: list[str]) -> dict[str, Any]:
        from transformers import StaticCache

        session = ImageSession(loaded, image)  # for its encode and its inputs_embeds
        steps: list[dict[str, Any]] = []
        sync()
        start = time.perf_counter()
        session.encode()
        sync()
        encode_ms = (time.perf_counter() - start) * 1000
        for what, prompt in zip(["caption", *questions], prompts):
            settings = caption_settings if what == "caption" else answer_settings
            clock = SyncedClock(sync)
            kwargs = session.generation_kwargs(settings)
            with torch.inference_mode():
                embeds, attention, input_ids = session._language_inputs(prompt)
                if static_mode == "kept":
                    if "cache" not in state:
                        state["cache"] = new_static_cache(StaticCache)
                    state["cache"].reset()
                    cache_args: dict[str, Any] = {cache_kwarg: state["cache"]}
                else:
                    cache_args = {"cache_implementation": "static"}
                    if has_max_cache_len:  # newer transformers: one size for every request (else per request)
                        cache_args["max_cache_len"] = state["max_cache_len"]
                out = lm.generate(inputs_embeds=embeds, attention_mask=attention, input_ids=input_ids,
                                  disable_compile=True, streamer=clock, **cache_args, **kwargs)
            steps.append({"what": what, **clock.summary(), "ids": out[0, input_ids.shape[1]:].tolist()})
        sync()
        return {"encode_ms": encode_ms, "steps": steps, "total_ms": (time.perf_counter() - start) * 1000}

    def run_setup(name: str, warmups: int, one_round: Any) -> dict[str, Any]:
        reset_peak()
        result: dict[str, Any] = {"name": SETUP_NAMES[name], "ran": False}
        try:
            warm_s = []
            for _ in range(warmups):
                start = time.perf_counter()
                one_round()
                warm_s.append(time.perf_counter() - start)
            result["warmup_s"] = warm_s
            print(f"[{precision}] {name} warm-up: {', '.join(f'{w:.1f} s' for w in warm_s)}", flush=True)
            rounds = []
            for i in range(repeats):
                rounds.append(one_round())
                print(f"[{precision}] {name} round {i + 1}: {rounds[-1]['total_ms'] / 1000:.2f} s", flush=True)
            result.update(ran=True, rounds=rounds, peak_gpu_gib=gpu_peak(), summary=summarize(rounds))
        except Exception as exc:  # noqa: BLE001  (any failure is reported and the other setups still run)
            result["reason"] = one_line(exc)
            result["traceback"] = traceback.format_exc()
            print(f"[{precision}] {name} did not run: {result['reason']}", flush=True)
        return result

    setups: dict[str, Any] = {}
    setups["app"] = run_setup("app", 1, app_round)
    if not setups["app"]["ran"]:
        raise SystemExit(f"The app's path failed, so there is nothing to compare with: {setups['app']['reason']}")
    prompts = setups["app"]["rounds"][0]["prompts"]
    session = ImageSession(loaded, image)
    longest = max(session.prompt_ids(p).shape[1] for p in prompts) + max(caption_tokens, answer_tokens)
    state["max_cache_len"] = -(-longest // 64) * 64  # one size for every request: one decode graph

    setups["static"] = run_setup("static", 1, lambda: static_round(prompts))
    if compile_graphs:
        original = lm.forward
        try:
            lm.forward = torch.compile(original, mode="reduce-overhead", fullgraph=False)
            # (b)'s cache is kept: its tensors were made eagerly and never move, as CUDA graphs need.
            setups["graphs"] = run_setup("graphs", 2, lambda: static_round(prompts))
        except Exception as exc:  # noqa: BLE001
            setups["graphs"] = {"name": SETUP_NAMES["graphs"], "ran": False, "reason": one_line(exc)}
        finally:
            lm.forward = original
            torch._dynamo.reset()
        graphs = setups["graphs"]
        if graphs.get("warmup_s"):
            # The first warm-up holds the compilation; what it took beyond a timed round is "compile".
            later = graphs["summary"]["total_s"] if graphs["ran"] else 0.0
            graphs["compile_s"] = max(0.0, graphs["warmup_s"][0] - later)
    else:
        setups["graphs"] = {"name": SETUP_NAMES["graphs"], "ran": False, "reason": "--no-compile"}

    reference = [s["ids"] for s in setups["app"]["rounds"][0]["steps"]]
    for name in ("static", "graphs"):
        if setups[name]["ran"]:
            setups[name]["same_tokens"] = compare_ids(reference, [s["ids"] for s in setups[name]["rounds"][0]["steps"]],
                                                      ["caption", *questions])
    return {"precision": precision, "load": load, "setups": setups, "questions": questions,
            "caption_tokens": caption_tokens, "answer_tokens": answer_tokens, "repeats": repeats,
            "max_cache_len": state["max_cache_len"], "static_mode": static_mode,
            "cache_early_init": state.get("early_init", "no")}


def compare_ids(reference: list[list[int]], other: list[list[int]], names: list[str]) -> str:
    """"yes", or where the first token differs."""
    for name, a, b in zip(names, reference, other):
        if a != b:
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            return f"no: {'the caption' if name == 'caption' else repr(name)} differs from token {at + 1}"
    return "yes"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def summarize(rounds: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over the timed rounds."""
    cap = [r["steps"][0] for r in rounds]
    answers = [s for r in rounds for s in r["steps"][1:]]
    return {
        "encode_ms": _median([r["encode_ms"] for r in rounds]),
        "first_token_ms": _median([s["first_token_ms"] for s in cap]),
        "per_token_ms": _median([s["per_token_ms"] for s in cap]),
        "answer_first_token_ms": _median([s["first_token_ms"] for s in answers]),
        "answer_per_token_ms": _median([s["per_token_ms"] for s in answers]),
        "caption_s": _median([(r["encode_ms"] + r["steps"][0]["ms"]) / 1000 for r in rounds]),
        "total_s": _median([r["total_ms"] / 1000 for r in rounds]),
    }


# ---- the table ----------------------------------------------------------------------------------

def table(results: dict[str, Any]) -> str:
    """One Markdown table: a row per precision and setup, ratios against (a) of the same precision."""
    n = results["args"]["questions"]
    header = ("| Precision | Setup | Load s | Peak RSS GiB (load) | Peak GPU GiB (load / run) | Encode ms "
              "| Caption: first token ms | Caption: per token ms | Whole caption s (with encode) "
              f"| Caption + {n} follow-ups s | Same tokens as (a) |")
    lines = [header,
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for asked, data in results["precisions"].items():
        if "error" in data:
            lines.append(f"| {asked} | all | did not run: {data['error']} | | | | | | | | |")
            continue
        load = data["load"]
        label = asked if load["precision"] == asked else f"{asked} (loaded as {load['precision']})"
        base = data["setups"]["app"].get("summary") or {}

        def cell(s: dict[str, float], key: str, fmt: str, is_app: bool, base: dict[str, float] = base) -> str:
            text = format(s[key], fmt)
            if not is_app and base.get(key):
                text += f" ({s[key] / base[key]:.2f}x)"
            return text

        for name in SETUPS:
            setup = data["setups"][name]
            gpu_load = "–" if load["peak_gpu_gib"] is None else f"{load['peak_gpu_gib']:.2f}"
            if not setup["ran"]:
                lines.append(f"| {label} | {setup['name']} | | | | did not run: {setup['reason']} | | | | | |")
                continue
            s = setup["summary"]
            gpu_run = "–" if setup.get("peak_gpu_gib") is None else f"{setup['peak_gpu_gib']:.2f}"
            is_app = name == "app"
            lines.append(
                f"| {label} | {setup['name']} | {load['load_s']:.1f} | {load['peak_rss_gib']:.2f} | "
                f"{gpu_load} / {gpu_run} | "
                f"{cell(s, 'encode_ms', '.1f', is_app)} | {cell(s, 'first_token_ms', '.1f', is_app)} | "
                f"{cell(s, 'per_token_ms', '.2f', is_app)} | {cell(s, 'caption_s', '.3f', is_app)} | "
                f"{cell(s, 'total_s', '.3f', is_app)} | {'–' if is_app else setup.get('same_tokens', '')} |")
    notes = []
    for asked, data in results["precisions"].items():
        for name in ("graphs",):
            setup = (data.get("setups") or {}).get(name) or {}
            if setup.get("warmup_s"):
                notes.append(f"{asked} (c): warm-up rounds {', '.join(f'{w:.1f} s' for w in setup['warmup_s'])} "
                             f"(compile about {setup.get('compile_s', 0):.1f} s)")
    m = results["machine"]
    a = results["args"]
    lines.append("")
    lines.append(f"Medians of {a['repeats']} timed round(s) after warm-up; greedy, caption {a['caption_tokens']} tokens, "
                 f"answers {a['answer_tokens']} tokens (forced lengths); static cache: {a['static']}; "
                 f"ratios against (a) of the same precision.")
    if notes:
        lines.append("; ".join(notes) + ".")
    lines.append(f"Machine: {m.get('gpu') or m.get('Model name')}; CUDA {m.get('cuda')}; torch {m.get('torch')}; "
                 f"transformers {m.get('transformers')}; device {a['device']}; model {a['dir']}.")
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    """bench/engine.py's machine() plus the GPU."""
    import torch

    info = engine.machine()
    info["cuda"] = torch.version.cuda
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / GIB, 1)
        info["driver_capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
    return info


# ---- command line -------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--precision", default="fp16,bf16", help="comma-separated: fp16, bf16, fp32")
    parser.add_argument("--dir", type=Path,
                        help=f"model folder (default {engine.DEFAULT_DIR}; {engine.TINY_DIR} with --tiny); "
                             "built with bench/engine.py's build() when missing")
    parser.add_argument("--tiny", action="store_true", help="a tiny model: checks the script end to end")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per setup (medians are reported)")
    parser.add_argument("--caption-tokens", type=int, default=20)
    parser.add_argument("--answer-tokens", type=int, default=5)
    parser.add_argument("--questions", type=int, default=3, help="follow-up questions after the caption")
    parser.add_argument("--no-compile", action="store_true", help="skip (c), torch.compile with CUDA graphs")
    parser.add_argument("--static", choices=("kept", "per-call"), default="kept",
                        help="kept: one StaticCache reset between requests; per-call: cache_implementation='static'")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=engine.OUT_DIR,
                        help="folder for the JSON (default bench/out; on the device machine: $OUT)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    folder: Path = args.dir or (engine.TINY_DIR if args.tiny else engine.DEFAULT_DIR)
    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]

    if args.child:
        data = measure(folder, args.device, precisions[0], args.threads, args.caption_tokens, args.answer_tokens,
                       args.questions, args.repeats, not args.no_compile, args.static)
        args.result.write_text(json.dumps(data, indent=1), encoding="utf-8")
        return 0

    if not (folder / engine.DONE_MARKER).is_file():
        # A process of its own, so the build's copy of the weights is gone before anything is measured.
        subprocess.run([sys.executable, str(Path(engine.__file__).resolve()), "--dir", str(folder),
                        *(["--tiny"] if args.tiny else []), "--child", "build"], check=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results: dict[str, Any] = {"args": {**{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                                           if k not in ("child", "result", "out")}, "dir": str(folder)},
                               "precisions": {}}
    machine = machine_info()
    path = args.out / f"gpu-engine-{stamp}.json"
    for precision in precisions:
        # A fresh process per precision: its load time and its GPU memory are its own.
        part = args.out / f"gpu-engine-{stamp}-{precision}.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--result", str(part), "--dir", str(folder),
               "--device", args.device, "--precision", precision, "--threads", str(args.threads),
               "--repeats", str(args.repeats), "--caption-tokens", str(args.caption_tokens),
               "--answer-tokens", str(args.answer_tokens), "--questions", str(args.questions),
               "--static", args.static, *(["--no-compile"] if args.no_compile else [])]
        log = args.out / f"gpu-engine-{stamp}-{precision}.log"  # the child's warnings and tracebacks
        with open(log, "w", encoding="utf-8") as err:
            proc = subprocess.run(cmd, stderr=err, check=False)
        if proc.returncode != 0 or not part.is_file():
            text = log.read_text(encoding="utf-8", errors="replace")
            tail = [line for line in text.strip().splitlines() if line.strip()]
            reason = tail[-1] if tail else f"exit status {proc.returncode}"
            print(text[-3000:], file=sys.stderr)
            results["precisions"][precision] = {"error": reason[:200], "log": str(log)}
        else:
            results["precisions"][precision] = json.loads(part.read_text(encoding="utf-8"))
            part.unlink()
        # Written after every precision, so a run stopped at a time limit keeps what it finished.
        results["machine"] = machine
        results["table"] = table(results)
        path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print()
    print(results["table"])
    print(f"\nFigures: {path}")
    return 0 if all("error" not in d for d in results["precisions"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
