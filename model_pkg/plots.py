"""The seed report's two figures: a digit grid and the loss curves, as PNG files.

Both are rendered in memory and written atomically, so a killed run never
leaves a truncated PNG behind.
"""

import io

import numpy as np

from model_pkg.fileio import atomic_write_bytes


def grid_image(images, rows, cols, scale=2, pad=2):
    """Tiles images into one uint8 picture.

    Args:
      images: float [rows*cols, 28, 28] or [.., 28, 28, 1] in [0, 1], row-major.
    Returns:
      uint8 [H, W], white ink on black like MNIST, ``pad`` pixels between cells.
    """
    images = np.asarray(images, dtype=np.float32).reshape(rows * cols, 28, 28)
    cell = 28 + pad
    canvas = np.full((rows * cell + pad, cols * cell + pad), 64, dtype=np.uint8)
    pixels = np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
    for i, tile in enumerate(pixels):
        r, c = divmod(i, cols)
        canvas[pad + r * cell:pad + r * cell + 28, pad + c * cell:pad + c * cell + 28] = tile
    return np.kron(canvas, np.ones((scale, scale), dtype=np.uint8))


def save_grid(path, images, rows, cols, scale=2):
    """Writes a PNG grid of ``images`` (see grid_image) to ``path``."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(grid_image(images, rows, cols, scale)).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())


def save_loss_curve(path, history, title):
    """Writes the D and G losses (and D's real accuracy / fake share) against step.

    Args:
      history: list of dicts with keys step, d_loss, g_loss, d_real_accuracy, fake_share.
    """
    import matplotlib
    matplotlib.use("Agg")   # files only; never needs a display
    from matplotlib import pyplot as plt

    steps = [h["step"] for h in history]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    top.plot(steps, [h["d_loss"] for h in history], label="discriminator loss")
    top.plot(steps, [h["g_loss"] for h in history], label="generator loss")
    top.set_ylabel("loss (config.objective's)")
    top.legend()
    top.set_title(title)
    bottom.plot(steps, [h["d_real_accuracy"] for h in history], label="D accuracy on real digits")
    bottom.plot(steps, [h["fake_share"] for h in history], label="generated called fake")
    bottom.set_ylim(-0.02, 1.02)
    bottom.set_xlabel("step")
    bottom.legend()
    fig.tight_layout()
    _save_figure(path, fig, plt)


def save_entropy_chart(path, real, generated):
    """Bars of the evaluator's mean softmax entropy per digit: real test digits and each run.

    Args:
      real: 10 floats (nats); generated: {run name: 10 floats}.
    """
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    series = {"real test digits": real} | generated
    width = 0.8 / len(series)
    fig, axis = plt.subplots(figsize=(8, 3.6))
    for i, (name, values) in enumerate(series.items()):
        axis.bar(np.arange(10) + (i - (len(series) - 1) / 2) * width, values, width, label=name)
    axis.set_xticks(range(10))
    axis.set_xlabel("digit asked for (generated) / true digit (real)")
    axis.set_ylabel("evaluator entropy (nats)")
    axis.set_title("How unsure the evaluator is: lower than real = digits more typical than real")
    axis.legend(fontsize=8)
    fig.tight_layout()
    _save_figure(path, fig, plt)


def save_missing_styles(path, found, title):
    """Per label (rows): real test digits no generated digit covers, each beside its nearest
    generated digit (model_pkg/eval/missing.py's ``found``), and the label's uncovered share."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    pairs = found["pairs"]                      # [10, M, 2, 28, 28]
    rows, per = pairs.shape[:2]
    cells = np.concatenate([np.concatenate([pairs[:, j, 0], pairs[:, j, 1],
                                            np.full_like(pairs[:, j, 0], 0.25)], axis=2)
                            for j in range(per)], axis=2)   # real | generated | gap, per pair
    canvas = np.concatenate(list(cells), axis=0)            # [10 * 28, M * 84]
    fig, axis = plt.subplots(figsize=(1.25 * per + 1.6, 4.4))
    axis.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    axis.set_yticks(np.arange(rows) * 28 + 14)
    axis.set_yticklabels([f"{d}: {s:.0%} missed" for d, s in
                          enumerate(found["uncovered_share"])], fontsize=8)
    axis.set_xticks([])
    axis.set_title("Real digits no generated digit covers, farthest out first; each pair: "
                   f"real | nearest generated\n{title}", fontsize=9)
    fig.tight_layout()
    _save_figure(path, fig, plt)


def _save_figure(path, fig, plt):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
