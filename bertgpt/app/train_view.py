"""What the Train live tab shows of a run (tab_train.Run): the status lines, the probes'
answers, the loss figure and the embedding map. Read-only views of the record the
training thread fills, every word in the page's language (`lang`)."""
from __future__ import annotations

from .common import as_text
from .i18n import say
from .plots_live import as_plot, embedding_figure, loss_figure


def _bar(frac: float) -> str:
    return "█" * round(20 * frac) + "░" * (20 - round(20 * frac))


def status(run, lang: str = "en", final: bool = False) -> str:
    spec = run.spec
    with run.lock:
        last, evals, meta = dict(run.last), dict(run.last_eval), dict(run.meta)
    if not last and not final:
        if len(spec["archs"]) > 1:
            return say(lang, "train.status.preparing_both", device=run.device)
        return say(lang, "train.status.preparing", device=run.device)
    lines = [say(lang, "train.status.device", device=run.device)]
    for arch in spec["archs"]:
        e, v = last.get(arch), evals.get(arch)
        if not e:
            continue
        frac = max(e["step"] / spec["steps"], e["elapsed"] / spec["seconds"])
        frac = 1.0 if final and run.stopped_by.get(arch) != "stop" else min(frac, 1.0)
        vtext = ""
        if v:
            vtext = say(lang, "train.status.val", loss=f"{v['val_loss']:.3f}")
            if "val_bpc" in v:
                vtext += say(lang, "train.status.bpc", bpc=f"{v['val_bpc']:.2f}")
            if "val_mlm_acc" in v:
                vtext += say(lang, "train.status.mlm_acc", acc=f"{v['val_mlm_acc']:.0%}")
        params = meta.get(arch, {}).get("params", 0)
        lines.append(say(lang, "train.status.line", arch=arch.upper(),
                         params=f"{params / 1e6:.2f}", bar=_bar(frac), frac=f"{frac:.0%}",
                         step=e["step"], seconds=f"{e['elapsed']:.1f}",
                         loss=f"{e['loss']:.3f}", val=vtext,
                         speed=f"{e['tokens_per_s']:,.0f}"))
    if final:
        ends = ", ".join(f"{a.upper()}: " + say(lang, f"train.status.end.{s}")
                         if s in ("stop", "time", "steps") else f"{a.upper()}: {s}"
                         for a, s in run.stopped_by.items())
        lines.append(say(lang, "train.status.done_many", ends=ends) if len(run.models) > 1
                     else say(lang, "train.status.done_one", ends=ends))
        lines += [n for arch, loaded in run.models.items()
                  if (n := kept_note(arch, loaded.record, lang))]
    return "  \n".join(lines)


def kept_note(arch: str, record: dict, lang: str = "en") -> str:
    """Said when the run handed back earlier weights than its last (TrainConfig.keep_best):
    validation got worse at the end, the classic sign of memorising a small text."""
    best, steps, final = record.get("best_step"), record.get("steps"), record.get("final") or {}
    if best is None or steps is None or best >= steps or "val_loss" not in final:
        return ""
    return say(lang, "train.status.kept", arch=arch.upper(), step=best,
               loss=f"{final['val_loss']:.3f}")


def probes(run, lang: str = "en") -> str:
    with run.lock:
        shown = dict(run.probes)
    if not run.spec.get("probes"):
        return say(lang, "train.probes.none")
    if not shown:
        return say(lang, "train.probes.waiting")
    out = []
    for arch, items in shown.items():
        for p in items:
            if "error" in p:
                out.append(f"**{arch.upper()}** `{p['prompt']}`: {as_text(p['error'])}")
            elif arch == "gpt":  # prompts come from the user's text: shown, never parsed
                out.append(say(lang, "train.probes.gpt", prompt=as_text(p["prompt"]),
                               text=p["text"].strip() or "…"))
            else:
                first = p["guesses"][0] if p["guesses"] else []
                guesses = " · ".join(f"{t} {pr:.1%}" for t, pr in first)
                out.append(f"**BERT** `{p['prompt']}` → {guesses}")
    return "  \n".join(out)


def figure(run, lang: str = "en"):
    with run.lock:
        train = {a: list(v) for a, v in run.train.items()}
        val = {a: list(v) for a, v in run.val.items()}
        vocab = {a: m["vocab"] for a, m in run.meta.items()}
    return as_plot(loss_figure(train, val, vocab, lang=lang))


def embedding(run, lang: str = "en"):
    """The latest embedding map of each model; a note where the run has none to show."""
    with run.lock:
        maps = dict(run.maps)
    note = "" if run.spec.get("embed_groups") else say(lang, "train.map.world_only")
    return as_plot(embedding_figure(maps, lang, note))
