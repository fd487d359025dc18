"""One training loop for BERT and GPT, written as a generator of metric events.

The app streams the events into a live chart, the CLI into a progress bar or JSON
lines; both share every line below. BERT learns MLM + NSP from batches built by
`mlm.py` and `nsp.py` (no second masking implementation), GPT learns next-token
prediction. Validation is the last part of the text (10% unless told otherwise).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch

from . import fastpath
from .. import settings
from .allocator import keep_freed_memory
from .data import BertData, GPTData, split_text
from ..errors import ConfigError
from ..model.build import build


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000            # optimizer steps (the run may end earlier on time or stop)
    time_budget: float | None = None  # seconds of training; the LR schedule follows it too
    batch_size: int = 32         # sequences per step
    lr: float = 3e-3             # peak learning rate after warm-up
    min_lr: float | None = None  # end of the cosine decay; None = lr / 10
    warmup: int = 50             # linear warm-up steps (Adam's early estimates are noisy)
    weight_decay: float = 0.1    # AdamW decay on matrices only (not biases, norms)
    grad_clip: float = 1.0       # global gradient-norm clip
    eval_every: int = 100        # steps between validation evaluations
    eval_batches: int = 4        # batches per validation evaluation
    val_fraction: float = 0.1    # the last part of the text held out for validation
    seed: int = 0
    device: str = "auto"         # auto | cpu | cuda | mps
    precision: str = "auto"      # auto | fp32 | bf16; auto = bf16 on CUDA (autocast) and
                                 # on CPUs with AMX (matmuls only: fastpath.py)
    compile: bool = False        # torch.compile the model (pays back on long GPU runs)
    keep_best: bool = True       # end on the weights of the best validation evaluation
    mlm_prob: float = 0.15       # BERT: share of tokens selected for prediction
    mlm_mask_rate: float = 0.8   # BERT: of the selected, the share shown as [MASK] ...
    mlm_random_rate: float = 0.1  # ... and as a random token; the rest stay as they are
    nsp: bool = True             # BERT: also learn next sentence prediction
    nsp_same_document: bool = False  # BERT: NotNext partners from A's own document (the
                                     # seed article's bug, text/nsp.py) instead of another

    def __post_init__(self):
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ConfigError(f"steps must be at least 1, got {self.steps}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {self.batch_size}")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ConfigError(f"time budget must be a positive number of seconds, got {self.time_budget}")
        if not 0 < self.lr < 1:
            raise ConfigError(f"learning rate must be between 0 and 1, got {self.lr}")
        if not 0 < self.val_fraction < 0.5:
            raise ConfigError(f"val_fraction must be in (0, 0.5), got {self.val_fraction}")
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            raise ConfigError(f"device must be auto, cpu, cuda or mps, got {self.device!r}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; use auto or cpu")
    return torch.device(name)


def lr_at(step: int, progress: float, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr. `progress` in [0, 1] is the larger of
    step/steps and elapsed/time_budget, so a timed run also ends its decay on time."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    min_lr = cfg.lr / 10 if cfg.min_lr is None else cfg.min_lr
    return min_lr + 0.5 * (cfg.lr - min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(model, cfg: TrainConfig, device: torch.device):
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    # fused AdamW: one kernel per parameter instead of about ten. On CUDA and on the CPU
    # alike (2-core CPU, the benchmark config: 0.8 ms a step against 3.4 ms unfused).
    fused = device.type in ("cuda", "cpu")
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.99), fused=fused or None)


def _autocast(device: torch.device, precision: str):
    """bf16 autocast where it pays: on CUDA. On a CPU the fast path (fastpath.py) sends
    only the large matmuls to bf16, and only on CPUs with AMX, as bf16.py explains."""
    bf16 = device.type != "cpu" and (
        precision == "bf16" or (precision == "auto" and device.type == "cuda"))
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def _agree(reason, device):
    """Rank 0's clock and stop flag decide for all ranks."""
    import torch.distributed as dist
    code = torch.tensor([{"time": 1, "stop": 2}.get(reason, 0)], device=device)
    dist.broadcast(code, src=0)
    return {1: "time", 2: "stop"}.get(int(code))


def _should_stop(stop) -> bool:
    if stop is None:
        return False
    return stop.is_set() if hasattr(stop, "is_set") else bool(stop())


class _Objective(torch.nn.Module):
    """The model plus its loss in one forward(), so DistributedDataParallel (which hooks
    the wrapper's forward) sees the whole step, whatever loss method the model uses."""

    def __init__(self, model, data):
        super().__init__()
        self.model, self.data = model, data

    def forward(self, batch):
        return self.data.loss(self.model, batch)


def distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group when started by torchrun."""
    world = settings.current().world_size
    if world <= 1:
        return 0, 1
    import torch.distributed as dist
    if not dist.is_initialized():
        # NCCL between GPUs, gloo between CPU processes.
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def run(model, data, cfg: TrainConfig, stop=None, started: float | None = None):
    """Train `model` on `data` (GPTData or BertData); yield events; the last is "done".

    `started` is the `time.perf_counter()` reading the time budget counts from (`train`
    passes the moment it began, before the tokenizer and the data); by default, now.
    Under torchrun every rank runs this loop on its own batches (seeded by rank) and
    gradients are averaged across ranks after each backward pass."""
    rank, world = distributed()
    device = pick_device(cfg.device)
    if device.type == "cuda":
        if world > 1:
            device = torch.device("cuda", settings.current().local_rank)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        keep_freed_memory()  # no page faults on each step's activations (allocator.py)
    model.to(device).train()
    # The losses are computed by the CPU fast path where it applies (the same loss and
    # gradients as the plain model's, from the same parameters), else by the model.
    fast = fastpath.choose(model, device, cfg.precision, compiled=cfg.compile)
    losses = fastpath.for_training(model, fast)
    step_fn = _Objective(torch.compile(losses) if cfg.compile else losses, data)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel
        step_fn = DistributedDataParallel(
            step_fn, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True)  # e.g. BERT's NSP head when NSP is off
    opt = make_optimizer(model, cfg, device)
    g = torch.Generator().manual_seed(cfg.seed + 1000 * rank)
    # Two clocks: `start` for the budget and the reported elapsed time (wall time, set-up
    # included), `steps_from` for tokens/s, which is about the steps alone.
    steps_from = time.perf_counter()
    history, start, tokens_seen = [], steps_from if started is None else started, 0
    last_eval = best = None
    stopped_by, step = "steps", 0
    while step < cfg.steps:
        elapsed = time.perf_counter() - start
        # At least one step, even when the set-up alone used the budget: a run always
        # hands back a model that has learned something and a point on its curve.
        reason = ("time" if cfg.time_budget is not None and elapsed >= cfg.time_budget
                  and step > 0 else "stop" if _should_stop(stop) else None)
        if world > 1:  # every rank must stop at the same step, or the others hang
            reason = _agree(reason, device)
        if reason:
            stopped_by = reason
            break
        progress = max(step / cfg.steps, elapsed / cfg.time_budget if cfg.time_budget else 0.0)
        lr = lr_at(step, progress, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        batch = data.batch("train", cfg.batch_size, g, device)
        with _autocast(device, cfg.precision):
            loss, parts = step_fn(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        tokens_seen += data.tokens_in(batch)
        elapsed = time.perf_counter() - start
        event = {"type": "step", "step": step, "loss": loss.item(), "lr": lr,
                 "elapsed": elapsed,
                 "tokens_per_s": tokens_seen / max(time.perf_counter() - steps_from, 1e-9),
                 "device": device.type, **{k: float(v) for k, v in parts.items()}}
        history.append(event)
        yield event
        if step % cfg.eval_every == 0 and step < cfg.steps:
            last_eval = _evaluate(model, losses, data, cfg, device, step, elapsed)
            best = _better(best, last_eval, model, cfg)
            history.append(last_eval)
            yield last_eval
    # Always end on a validation figure, so every run reports comparable numbers.
    elapsed = time.perf_counter() - start
    if last_eval is None or last_eval["step"] != step:
        last_eval = _evaluate(model, losses, data, cfg, device, step, elapsed)
        history.append(last_eval)
        yield last_eval
    final, best_step = last_eval, step
    if best is not None and best[0]["val_loss"] < last_eval["val_loss"]:
        # Validation got worse since the best evaluation: the model memorised its text
        # (a small text read for many epochs). Hand back the best weights instead, as
        # nanoGPT keeps only checkpoints that improved validation loss.
        model.load_state_dict(best[1])
        final, best_step = best[0], best[0]["step"]
    model.eval()
    record = {"train_config": asdict(cfg), "model_config": model.cfg.to_dict(),
              "history": history, "final": final, "steps": step, "best_step": best_step,
              "stopped_by": stopped_by, "seconds": elapsed, "setup_seconds": steps_from - start,
              "device": device.type,
              "world_size": world}
    yield {"type": "done", "model": model, "record": record, "stopped_by": stopped_by,
           "step": step, "best_step": best_step, "elapsed": elapsed, "rank": rank}


def _better(best, ev, model, cfg):
    """(eval, weights) of the best evaluation so far, a copy of the weights taken only
    when keep_best is on and this evaluation improved on it."""
    if not cfg.keep_best or not math.isfinite(ev["val_loss"]):
        return best
    if best is None or ev["val_loss"] < best[0]["val_loss"]:
        return ev, {k: v.detach().clone() for k, v in model.state_dict().items()}
    return best


@torch.no_grad()
def _evaluate(model, losses, data, cfg, device, step, elapsed) -> dict:
    """Validation in eval mode: fp32 on a CPU (bf16 is for training only), where the fast
    path still reads BERT's last layer at the selected rows only."""
    model.eval()
    with _autocast(device, cfg.precision):
        metrics = data.evaluate(losses, cfg.batch_size, cfg.eval_batches, device)
    model.train()
    return {"type": "eval", "step": step, "elapsed": elapsed, **metrics}


def train(arch: str, text: str, *, tokenizer=None, tokenizer_kind: str | None = None,
          vocab_size: int = 2000, model: dict | None = None, cfg: TrainConfig | None = None,
          stop=None, init=None, started: float | None = None):
    """Everything from raw text: tokenizer (trained unless given), data, model, loop.

    `model` holds ModelConfig overrides (n_layer, n_head, n_embd, block_size, ...).
    `init` continues training a checkpoint.Loaded (its model and tokenizer) instead.
    The first event, "start", hands over what was set up: the model the loop is about
    to train (the object itself, so a caller can look at it between steps, as the app's
    probes do), its tokenizer and the data's note. Like "done", which also carries the
    tokenizer, it holds live objects: keep it in this process, do not print it as JSON.

    The time budget is wall time from the call (or from `started`, a perf_counter
    reading: the app's job passes one clock for both models of a side-by-side run), so
    training the tokenizer and building the data count. Why count them rather than cache
    the world tokenizers: the app trains each run in a fresh child process (worker.py),
    where an in-memory cache is never hit again, and a cache on disk would be one more
    store to bound and clean; a pasted text needs its own tokenizer anyway. Counting
    keeps the promise a student reads the budget as: "15 s" ends about 15 s later
    (on a 2M-character world corpus the set-up alone took ~5 s for BERT, ~3 s for GPT).
    """
    started = time.perf_counter() if started is None else started
    from ..model.config import ModelConfig
    from ..text.tokenizer import train_tokenizer
    cfg = cfg or TrainConfig()
    if arch not in ("bert", "gpt"):
        raise ConfigError(f"arch must be 'bert' or 'gpt', got {arch!r}")
    train_text, val_text = split_text(text, cfg.val_fraction)
    if init is not None:
        if init.model.cfg.arch != arch:
            raise ConfigError(f"cannot continue a {init.model.cfg.arch} checkpoint as {arch}")
        tokenizer, model = init.tokenizer, {k: v for k, v in init.model.cfg.to_dict().items()
                                            if k not in ("arch", "vocab_size")}
    if tokenizer is None:
        kind = tokenizer_kind or ("wordpiece" if arch == "bert" else "bpe")
        tokenizer = train_tokenizer(kind, train_text, vocab_size, model=arch)
    overrides = dict(model or {})
    mcfg = ModelConfig(arch, vocab_size=tokenizer.vocab_size, **overrides)
    data_cls = BertData if arch == "bert" else GPTData
    data = data_cls(tokenizer, train_text, val_text, mcfg.block_size, cfg)
    torch.manual_seed(cfg.seed)  # model initialisation is part of the seeded recipe
    net = build(mcfg)
    if init is not None:
        net.load_state_dict(init.model.state_dict())
    note = getattr(data, "note", "")  # e.g. BERT with one document trains without NSP
    yield {"type": "start", "model": net, "tokenizer": tokenizer, "note": note}
    if note:
        yield {"type": "note", "message": note}
    for event in run(net, data, cfg, stop, started=started):
        if event["type"] == "done":
            event["tokenizer"] = tokenizer
            event["record"]["note"] = note
        yield event
