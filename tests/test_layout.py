"""The package's shape (README "Layout"): subpackages in dependency order, and two rules.

Every import of a bertgpt module is read from the source, function-level ones included,
so a lazy import cannot hide a cycle or a dependency that runs the wrong way.
"""
import ast
from pathlib import Path

import bertgpt

PACKAGE = Path(bertgpt.__file__).resolve().parent
# Lowest first: a module may import from its own layer and the layers before it.
ORDER = ["errors", "settings", "model", "text", "pretrain", "finetune", "io", "course", "app",
         "cli"]
UI_LIBRARIES = {"gradio", "gradio_client", "spaces"}


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """(module, line) for every import in the file, as absolute dotted names."""
    here = _name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for n in node.names:
                yield n.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[: len(package) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            for n in node.names:
                yield (f"{base}.{n.name}" if f"{base}.{n.name}" in MODULES else base), node.lineno


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {m: {(t, line) for t, line in _imports(p)} for m, p in MODULES.items()}


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_every_subpackage_is_in_the_order():
    layers = {_layer(m) for m in MODULES if m != "bertgpt"}
    assert layers == set(ORDER)


def test_imports_go_down_the_order_only():
    wrong = []
    for m, deps in GRAPH.items():
        if m == "bertgpt":  # the curated API sits on top of everything
            continue
        for target, line in deps:
            if target == "bertgpt":
                wrong.append(f"{m}:{line} imports the package's own __init__")
            elif target.startswith("bertgpt.") and \
                    ORDER.index(_layer(target)) > ORDER.index(_layer(m)):
                wrong.append(f"{m}:{line} -> {target}")
    assert not wrong, "\n".join(wrong)


def test_the_model_never_imports_the_training_side():
    """The fast path is swapped in by the training loop; the model does not know of it
    (the model's only other import is the errors module)."""
    for m, deps in GRAPH.items():
        if _layer(m) == "model":
            for target, line in deps:
                assert not target.startswith("bertgpt.") or _layer(target) in ("model", "errors"), \
                    f"{m}:{line} -> {target}"


def test_only_the_app_imports_gradio():
    wrong = [f"{m}:{line} -> {t}" for m, deps in GRAPH.items() if _layer(m) != "app"
             for t, line in deps if t.split(".")[0] in UI_LIBRARIES]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    """Tarjan's strongly connected components over the module graph."""
    edges = {m: {t for t, _ in deps if t in MODULES and t != m} for m, deps in GRAPH.items()}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_the_model_files_are_plain_pytorch():
    """What a student reads: no autograd.Function, no bfloat16, no private torch op."""
    for path in (PACKAGE / "model").glob("*.py"):
        src = path.read_text()
        for banned in ("autograd.Function", "bfloat16", "torch._C", "torch.ops.aten",
                       "aten."):
            assert banned not in src, f"{path.name} uses {banned}"


def test_the_curated_api_resolves():
    """Every name the package offers at its top (what the lessons and README import)."""
    for name in bertgpt.__all__:
        assert getattr(bertgpt, name) is not None, name


def test_the_lessons_import_from_the_curated_api_only():
    """A lesson's code says `from bertgpt import ...`, never an internal path."""
    lessons = PACKAGE.parent / "lessons"
    wrong = [f"{p.relative_to(lessons)}: {line.strip()}" for p in lessons.rglob("*.md")
             for line in p.read_text().splitlines()
             if line.lstrip().startswith(("from bertgpt.", "import bertgpt."))]
    assert not wrong, "\n".join(wrong)
