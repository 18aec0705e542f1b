"""Training: ``train_and_evaluate(config, workdir)`` and what it writes.

Workdir layout:
    config.json            the run's config (compared on every resume)
    checkpoints/ckpt-*/    atomic checkpoints (see checkpoint.py)
    tensorboard/           d_loss, g_loss, d_real_accuracy, fake_share
    samples/step-*.png     10x10 grids: rows are digits 0-9, columns fixed noise
    samples/final.png      the grid at the last step
    loss_curve.png         losses and D's accuracies against step
    train_summary.json     steps, wall time, steps/s, peak memory, data source
"""

import contextlib
import dataclasses
import fcntl
import os
import time

import numpy as np

from model_pkg import checkpoint, contract, machine, memory, plots
from model_pkg.config import get_preset, load_saved_config
from model_pkg.fileio import atomic_write_json

_SAMPLE_NOISE_SEED = 1234   # fixed noise for the sample grids, shared by every run
_GRID_COLS = 10
_METRICS = ("d_loss", "g_loss", "d_real_accuracy", "fake_share")


def __getattr__(name):
    """``from model_pkg.train import build_gan``, its old home, still works: build_gan lives in
    model_pkg/gan.py, imported only when asked for (this module starts without TensorFlow)."""
    if name == "build_gan":
        from model_pkg.gan import build_gan

        return build_gan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ConfigMismatch(ValueError):
    """A workdir holds a run whose config differs from the one asked for."""


@dataclasses.dataclass
class TrainResult:
    step: int                 # the step the workdir's newest checkpoint holds
    steps_run: int            # steps trained by this call (0 when already done)
    wall_seconds: float       # of the training loop in this call
    steps_per_second: float   # steps_run / wall_seconds (0 when nothing ran)
    peak_rss_mib: float       # this process's peak resident memory
    final_grid: str
    loss_curve: str


def resolve_config(workdir, preset=None, **overrides):
    """The config a ``train`` command means.

    A workdir with a run continues that run's config unless a preset or
    override says otherwise; ``overrides`` with value None are ignored.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    saved = load_saved_config(workdir)
    base = saved if (saved is not None and preset is None) else get_preset(preset or "default")
    config = dataclasses.replace(base, **overrides)
    if saved is not None:   # settled from the saved run alone: no device query before a strategy
        config = settle_compute_dtype(config, saved)
        check_compatible(saved, config, workdir)
    return config


def check_compatible(saved, config, workdir):
    """Raises ConfigMismatch naming each field that differs from the saved run."""
    old, new = saved.identity(), config.identity()
    diffs = [f"{k}: saved {old[k]!r}, asked {new[k]!r}" for k in sorted(old) if old[k] != new[k]]
    if diffs:
        raise ConfigMismatch(
            f"{workdir} holds a run with a different config ({'; '.join(diffs)}). "
            "Resume it with its own config, or train in a new --workdir.")


def settle_compute_dtype(config, saved, log=print):
    """``config`` with compute_dtype "auto" made concrete: a resumed run keeps the dtype it
    started in (saved beside it); a new one takes what this machine has (machine.py)."""
    if config.compute_dtype != "auto":
        return config
    if saved is not None and saved.compute_dtype != "auto":
        dtype = saved.compute_dtype
    else:
        dtype = machine.compute_dtype("auto")
        log(f"compute_dtype auto -> {dtype} on {machine.cpu_info()[0]}")
    return dataclasses.replace(config, compute_dtype=dtype)


@contextlib.contextmanager
def workdir_lock(workdir):
    """Holds an exclusive lock on the workdir; a second trainer fails at once."""
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, ".lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"{workdir} is in use by another training process") from None
        yield


def sample_noise():
    """float32 [10, 100]: the fixed noise of the grids' columns."""
    rng = np.random.default_rng(_SAMPLE_NOISE_SEED)
    return rng.standard_normal((_GRID_COLS, contract.NOISE_DIM)).astype(np.float32)


def write_sample_grid(generator, path):
    """Draws digits 0-9 (rows) x the fixed noise (columns) and saves the PNG."""
    labels = np.repeat(np.arange(contract.NUM_CLASSES, dtype=np.int32), _GRID_COLS)
    noise = np.tile(sample_noise(), (contract.NUM_CLASSES, 1))
    images = generator((labels, noise), training=False).numpy()
    plots.save_grid(path, (images + 1.0) / 2.0, contract.NUM_CLASSES, _GRID_COLS)


def train_and_evaluate(config, workdir, data_path=None, progress=True, log=print,
                       strategy="default"):
    """Trains (or resumes) ``config`` in ``workdir`` up to ``config.steps`` steps.

    ``strategy``: "default" (one device), "mirrored" or "multi-worker" (model_pkg/distribute.py;
    only the chief writes into the workdir). Returns a TrainResult. Raises ConfigMismatch if
    the workdir holds another config, DataError if MNIST cannot be found.
    """
    from model_pkg import data, distribute  # deferred with TensorFlow: a fast CLI start
    from model_pkg.gan import build_gan

    # First: a multi-worker strategy must exist before any other TensorFlow op runs.
    tf_strategy = distribute.make_strategy(strategy)
    chief = distribute.is_chief(tf_strategy)
    with workdir_lock(workdir) if chief else contextlib.nullcontext():
        saved = load_saved_config(workdir)
        config = settle_compute_dtype(config, saved, log)
        if saved is not None:
            check_compatible(saved, config, workdir)
        if chief:
            atomic_write_json(os.path.join(workdir, "config.json"), config.to_dict())
        mnist = data.load_mnist(data_path)
        log(f"data: {mnist.source} (sha256 {mnist.sha256})")
        gan = build_gan(config, tf_strategy)
        start, history = _restore_latest(gan, workdir, log)
        distribute.check_same_step(tf_strategy, gan)
        loop = _Loop(config, workdir, gan, mnist, history, tf_strategy, strategy)
        wall = loop.run(start, progress) if start < config.steps else 0.0
        if start >= config.steps:
            log(f"{workdir} is already at step {start} >= {config.steps}; nothing to train")
        return _finish(config, workdir, gan, loop.history, start, wall, chief)


def _restore_latest(gan, workdir, log):
    found = checkpoint.latest_valid(workdir)
    if found is None:
        return 0, []
    step, folder, meta = found
    checkpoint.restore(folder, gan.state_variables())
    if int(gan.step.numpy()) != step:
        raise checkpoint.CheckpointError(f"{folder}: holds step {int(gan.step.numpy())}")
    log(f"resumed from {folder} (step {step})")
    return step, list(meta.get("history", []))


class _Loop:
    """The step loop: train, log, checkpoint, draw samples."""

    def __init__(self, config, workdir, gan, mnist, history, strategy=None, name="default"):
        from model_pkg import distribute

        self.config, self.workdir, self.gan = config, workdir, gan
        self.mnist, self.history = mnist, history
        self.strategy, self.strategy_name = strategy, name
        self.chief, self.replicas = distribute.is_chief(strategy), distribute.replicas(strategy)

    def run(self, start, progress):
        """Trains steps start..config.steps-1; returns the loop's wall seconds.

        ``progress``: True a tqdm bar, "lines" a plain line at most every LINE_EVERY_S
        (a container's log, where a bar is one endless line), False nothing.
        """
        import tensorflow as tf
        from tqdm import tqdm

        from model_pkg.distribute import peer_errors, run_step

        cfg = self.config
        batches, step_fn = self._stepper(start)
        writer = (tf.summary.create_file_writer(os.path.join(self.workdir, "tensorboard"))
                  if self.chief else tf.summary.create_noop_writer())
        bar = tqdm(total=cfg.steps, initial=start, disable=not (progress is True and self.chief),
                   unit="step", desc=f"train[{cfg.preset}]", mininterval=1.0,
                   dynamic_ncols=True)
        pending, began = [], time.perf_counter()
        lines = _ProgressLines(cfg.steps, start) if progress == "lines" and self.chief else None
        for step in range(start + 1, cfg.steps + 1):
            pending.append(run_step(step_fn, next(batches), step, self._newest))
            bar.update(1)
            # A peer lost while logging or checkpointing (eager collectives) reads as in a step.
            with peer_errors(step, self._newest):
                if step % cfg.log_every == 0 or step == cfg.steps:
                    point = self._log(step, pending, writer)
                    bar.set_postfix(point, refresh=False)
                    if lines is not None:
                        lines.maybe_print(step, point)
                    pending = []
                self._periodic(step)
        wall = time.perf_counter() - began
        bar.close()
        writer.close()
        return wall

    def _stepper(self, start):
        """(batch iterator, step function): one device's, or the strategy's."""
        import tensorflow as tf

        from model_pkg import distribute
        from model_pkg.input_pipeline import image_spec, train_dataset

        cfg, x, y = self.config, self.mnist.x_train, self.mnist.y_train
        if self.strategy is not None:
            return (distribute.distributed_batches(self.strategy, x, y, cfg.batch_size,
                                                   cfg.random_seed, start),
                    distribute.step_function(self.strategy, self.gan))
        batches = iter(train_dataset(x, y, cfg.batch_size, cfg.random_seed, start_step=start))
        return batches, tf.function(self.gan.train_step, reduce_retracing=True, input_signature=[
            (image_spec(), tf.TensorSpec([None], tf.int32))])

    def _newest(self):
        found = checkpoint.list_checkpoints(self.workdir)
        return found[-1][0] if found else "none"

    def _log(self, step, pending, writer):
        import tensorflow as tf

        point = {"step": step}
        for name in _METRICS:
            point[name] = float(np.mean([p[name].numpy() for p in pending]))
        self.history.append(point)
        with writer.as_default(step=step):
            for name in _METRICS:
                tf.summary.scalar(name, point[name])
        return {k: f"{point[k]:.3f}" for k in ("d_loss", "g_loss")}

    def _periodic(self, step):
        cfg = self.config
        if not self.chief:   # only the chief writes; the others step on (the collectives wait)
            return
        if step % cfg.sample_every == 0:
            path = os.path.join(self.workdir, "samples", f"step-{step:08d}.png")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_sample_grid(self.gan.generator, path)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            meta = {"history": self.history, "data_source": self.mnist.source,
                    "data_sha256": self.mnist.sha256, "strategy": self.strategy_name,
                    "replicas": self.replicas}
            checkpoint.save(self.workdir, step, self.gan.state_variables(), meta,
                            self.config.to_json())
            checkpoint.prune(self.workdir, cfg.keep_checkpoints)


def _finish(config, workdir, gan, history, start, wall, chief=True):
    step, ran = int(gan.step.numpy()), int(gan.step.numpy()) - start
    if not chief:   # a non-chief worker writes nothing into the workdir
        return TrainResult(step, ran, round(wall, 3), round(ran / wall, 3) if wall > 0 else 0.0,
                           memory.peak_rss_mib(), final_grid="", loss_curve="")
    grid = os.path.join(workdir, "samples", "final.png")
    os.makedirs(os.path.dirname(grid), exist_ok=True)
    write_sample_grid(gan.generator, grid)
    curve = os.path.join(workdir, "loss_curve.png")
    if history:
        plots.save_loss_curve(curve, history, f"{config.preset} preset, batch {config.batch_size}")
    result = TrainResult(
        step=step, steps_run=ran, wall_seconds=round(wall, 3),
        steps_per_second=round(ran / wall, 3) if wall > 0 else 0.0,
        peak_rss_mib=memory.peak_rss_mib(),
        final_grid=grid, loss_curve=curve)
    atomic_write_json(os.path.join(workdir, "train_summary.json"), dataclasses.asdict(result))
    return result


class _ProgressLines:
    """One plain line per LINE_EVERY_S (and at the end): step, losses, speed, time left."""

    LINE_EVERY_S = 10.0

    def __init__(self, total, start):
        self.total, self.start = total, start
        self.began = self.last = time.perf_counter()

    def maybe_print(self, step, point):
        now = time.perf_counter()
        if now - self.last < self.LINE_EVERY_S and step != self.total:
            return
        self.last = now
        rate = (step - self.start) / max(now - self.began, 1e-9)
        losses = " ".join(f"{k}={v:.3f}" for k, v in point.items()
                          if k != "step" and isinstance(v, float))
        print(f"train: step {step}/{self.total} ({100 * step / self.total:.0f}%) {losses} "
              f"{rate:.1f} steps/s, {(self.total - step) / max(rate, 1e-9) / 60:.1f} min left",
              flush=True)
