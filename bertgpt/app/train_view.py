"""What the Train live tab shows of a run (tab_train.Run): the status lines, the probes'
answers and the loss figure. Read-only views of the record the training thread fills."""
from __future__ import annotations

from .common import as_text
from .plots_live import as_plot, loss_figure


def status(run, final: bool = False) -> str:
    spec = run.spec
    with run.lock:
        last, evals, meta = dict(run.last), dict(run.last_eval), dict(run.meta)
    if not last and not final:
        return f"Preparing: training the tokenizer{'s' if len(spec['archs']) > 1 else ''} and " \
               f"building the data… (device: **{run.device}**)"
    lines = [f"Device: **{run.device}**"]
    for arch in spec["archs"]:
        e, v = last.get(arch), evals.get(arch)
        if not e:
            continue
        frac = max(e["step"] / spec["steps"], e["elapsed"] / spec["seconds"])
        frac = 1.0 if final and run.stopped_by.get(arch) != "stop" else min(frac, 1.0)
        bar = "█" * round(20 * frac) + "░" * (20 - round(20 * frac))
        vtext = ""
        if v:
            vtext = f" · validation **{v['val_loss']:.3f}**"
            if "val_bpc" in v:
                vtext += f" ({v['val_bpc']:.2f} bits/char)"
            if "val_mlm_acc" in v:
                vtext += f" (masked-word accuracy {v['val_mlm_acc']:.0%})"
        params = meta.get(arch, {}).get("params", 0)
        lines.append(f"**{arch.upper()}** ({params / 1e6:.2f}M parameters) `{bar}` {frac:.0%} · "
                     f"step {e['step']} · {e['elapsed']:.1f} s · loss {e['loss']:.3f}{vtext} · "
                     f"**{e['tokens_per_s']:,.0f} tokens/s**")
    if final:
        how = {"stop": "stopped by you", "time": "time budget used", "steps": "all steps done"}
        ends = ", ".join(f"{a.upper()}: {how.get(s, s)}" for a, s in run.stopped_by.items())
        lines.append(f"**Done** ({ends}). Your model{'s are' if len(run.models) > 1 else ' is'} "
                     "now the **own** model in Fill-mask and Generate; the zip below holds "
                     "the checkpoint.")
        lines += [kept_note(arch, loaded.record) for arch, loaded in run.models.items()
                  if kept_note(arch, loaded.record)]
    return "  \n".join(lines)


def kept_note(arch: str, record: dict) -> str:
    """Said when the run handed back earlier weights than its last (TrainConfig.keep_best):
    validation got worse at the end, the classic sign of memorising a small text."""
    best, steps, final = record.get("best_step"), record.get("steps"), record.get("final") or {}
    if best is None or steps is None or best >= steps or "val_loss" not in final:
        return ""
    return (f"{arch.upper()}: validation loss was lowest at step {best} "
            f"({final['val_loss']:.3f}) and rose after it: the model began to memorise its "
            f"text (overfitting). The model you keep is step {best}'s.")


def probes(run) -> str:
    with run.lock:
        shown = dict(run.probes)
    if not run.spec.get("probes"):
        return "*No probes: the text has no sentence of 5-25 words ending in . ! or ?*"
    if not shown:
        return "*Probes appear after the first steps: what the models say right now.*"
    out = []
    for arch, items in shown.items():
        for p in items:
            if "error" in p:
                out.append(f"**{arch.upper()}** `{p['prompt']}`: {as_text(p['error'])}")
            elif arch == "gpt":  # prompts come from the user's text: shown, never parsed
                out.append(f"**GPT** (greedy) *{as_text(p['prompt'])}* → "
                           f"`{p['text'].strip() or '…'}`")
            else:
                first = p["guesses"][0] if p["guesses"] else []
                guesses = " · ".join(f"{t} {pr:.1%}" for t, pr in first)
                out.append(f"**BERT** `{p['prompt']}` → {guesses}")
    return "  \n".join(out)


def figure(run):
    with run.lock:
        train = {a: list(v) for a, v in run.train.items()}
        val = {a: list(v) for a, v in run.val.items()}
        vocab = {a: m["vocab"] for a, m in run.meta.items()}
    return as_plot(loss_figure(train, val, vocab))
