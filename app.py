"""Start the bertgpt course: `python app.py`, then open http://127.0.0.1:7860."""
import os

# Before torch loads: idle OpenMP threads sleep instead of spinning, so a training run
# and thirty students' requests share the cores instead of fighting over them.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
try:  # ZeroGPU wants `spaces` imported before anything touches CUDA; harmless elsewhere
    import spaces  # noqa: F401
except ImportError:
    pass

from bertgpt.app import build_app, launch

demo = build_app()

if __name__ == "__main__":
    launch(demo)
