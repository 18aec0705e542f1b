"""Training configuration: one frozen dataclass, named presets, JSON round-trip.

The config is saved beside every checkpoint (``config.json`` in the workdir);
a resumed run must match it in every field that shapes the model or its
training (everything but the run length and the bookkeeping cadence).
"""

import dataclasses
import json
import os

from model_pkg import contract, objectives


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    preset: str = "default"         # name of the preset these values came from
    # --- model (the seed report leaves these unstated; our choices) -------
    leaky_slope: float = 0.2        # LeakyReLU slope; 0.2 as in DCGAN
    output_activation: str = "tanh"  # generator output in [-1, 1]; data scaled to match
    bn_momentum: float = 0.99       # Keras' BatchNormalization defaults (the seed used Keras)
    bn_epsilon: float = 1e-3
    g_filters: int = 64             # channels of G's 7x7 map and hidden conv; 64 is the seed's
    g_conditional_bn: bool = False  # G's BatchNorms take per-class gamma and beta from the
    #                                 label (model_pkg/conditional_bn.py); off: the seed's BN
    # --- optimisation -----------------------------------------------------
    batch_size: int = 64            # seed: batch 64
    steps: int = 10_000             # seed: 10,000 iterations (one D and one G update each)
    g_learning_rate: float = 2e-4   # Adam, as DCGAN (seed unstated)
    d_learning_rate: float = 2e-4
    adam_beta1: float = 0.5         # DCGAN's beta1; 0.9 makes GANs oscillate
    adam_beta2: float = 0.999
    compute_dtype: str = "float32"  # "bfloat16": Keras mixed_bfloat16 (bf16 math, f32 weights);
    #                                 "auto": bfloat16 where the hardware has it (machine.py),
    #                                 else float32; export always rebuilds G in float32
    objective: str = "k_plus_1"     # D's head and the losses: the seed's "k_plus_1" or another
    #                                 entry of model_pkg/objectives/ (its REGISTRY)
    fused_batchnorm: bool = False   # training-mode BatchNorm as one fused op (fast_layers.py):
    #                                 same function, other rounding, so off for the seed's bits
    phase_upsampling: bool = False  # G's last UpSampling2D + Conv2DTranspose as low-resolution
    #                                 phase convolutions (fast_layers.py): likewise
    # --- reproducibility --------------------------------------------------
    random_seed: int = 0            # weights, data order and noise all derive from it
    # --- bookkeeping (may change between resumes) -------------------------
    checkpoint_every: int = 500     # steps between atomic checkpoints
    keep_checkpoints: int = 3       # newest complete checkpoints kept on disk
    log_every: int = 50             # steps between TensorBoard / history points
    sample_every: int = 2_500       # steps between PNG sample grids

    def __post_init__(self):
        _validate(self)

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data):
        """Builds a config from a dict, refusing unknown or missing-typed keys.

        A retired option (RETIRED) at its off value is dropped, so runs saved
        before it was removed still resume; a run that used it is refused.
        """
        if not isinstance(data, dict):
            raise ValueError(f"config must be a JSON object, got {type(data).__name__}")
        data = with_new_names(dict(data), "config")
        for name, off in RETIRED.items():
            if name in data and data.pop(name) != off:
                raise ValueError(f"config.{name}: this run used an option that was measured, "
                                 "lost and removed (docs/quality.md has its numbers); model-pkg "
                                 "0.1.0 trains it")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"config has unknown keys {unknown}; known keys: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))

    def identity(self):
        """The fields a resumed run must share with the run it continues."""
        data = self.to_dict()
        for name in RUN_LENGTH_FIELDS + BOOKKEEPING_FIELDS:
            data.pop(name)
        return data


# Options measured against the presets, lost, and removed from the training
# step (docs/quality.md): name -> the value that meant "off".
RETIRED = {"ema_decay": 0.0, "feature_matching": 0.0, "d_normalization": "batch",
           "minibatch_stddev": False, "label_smoothing": 0.0, "mode_seeking": 0.0}

# Old field name -> new (configs saved before the rename still load; --set OLD=V works):
# "seed" alone means the seed report's model (the `seed` preset), never a random seed.
RENAMED = {"seed": "random_seed"}


def with_new_names(data, where):
    """``data`` with RENAMED keys under their new names; both spellings at once is an error."""
    for old, new in RENAMED.items():
        if old in data:
            if new in data:
                raise ValueError(f"{where}: {old!r} and {new!r} name the same field; give one")
            data[new] = data.pop(old)
    return data


# Fields that may differ between a run and its resumption.
RUN_LENGTH_FIELDS = ("steps",)
BOOKKEEPING_FIELDS = ("checkpoint_every", "keep_checkpoints", "log_every", "sample_every")

_POSITIVE_INTS = ("g_filters", "batch_size", "checkpoint_every", "keep_checkpoints",
                  "log_every", "sample_every")
_POSITIVE_FLOATS = ("g_learning_rate", "d_learning_rate", "bn_epsilon")
_UNIT_FLOATS = ("adam_beta1", "adam_beta2", "bn_momentum")   # in [0, 1)
_ACTIVATIONS = ("tanh",)   # export maps tanh's [-1, 1] to the contract's [0, 1]
_COMPUTE_DTYPES = ("float32", "bfloat16", "auto")   # "auto": model_pkg/machine.py
_BOOLS = ("fused_batchnorm", "phase_upsampling", "g_conditional_bn")


def _validate(cfg):
    def fail(name, rule):
        raise ValueError(f"config.{name}={getattr(cfg, name)!r}: {rule}")

    for name in _POSITIVE_INTS:
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            fail(name, "must be an integer >= 1")
    if not isinstance(cfg.steps, int) or isinstance(cfg.steps, bool) or cfg.steps < 0:
        fail("steps", "must be an integer >= 0")
    seed = cfg.random_seed
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
        fail("random_seed", "must be an integer in [0, 2**31)")
    for name in _POSITIVE_FLOATS:
        if not isinstance(getattr(cfg, name), (int, float)) or not getattr(cfg, name) > 0:
            fail(name, "must be a number > 0")
    for name in _UNIT_FLOATS:
        if not isinstance(getattr(cfg, name), (int, float)) or not 0 <= getattr(cfg, name) < 1:
            fail(name, "must be a number in [0, 1)")
    if not isinstance(cfg.leaky_slope, (int, float)) or not 0 <= cfg.leaky_slope < 1:
        fail("leaky_slope", "must be a number in [0, 1)")
    for name in _BOOLS:
        if not isinstance(getattr(cfg, name), bool):
            fail(name, "must be true or false")
    if cfg.compute_dtype not in _COMPUTE_DTYPES:
        fail("compute_dtype", f"must be one of {_COMPUTE_DTYPES}")
    if cfg.objective not in objectives.names():   # read now: a later entry counts too
        fail("objective", f"must be one of {objectives.names()}")
    if cfg.output_activation not in _ACTIVATIONS:
        fail("output_activation", f"must be one of {_ACTIVATIONS}")
    if cfg.batch_size > contract.MNIST_TRAIN_SIZE:
        fail("batch_size", f"must be <= {contract.MNIST_TRAIN_SIZE} (the training set)")


# The seed report's model and training, exactly (see README, "Architecture").
SEED = TrainConfig(preset="seed")

# The package default: the seed's networks with class-conditional BatchNorm in G (the
# label shapes every layer, as in the projection cGAN's own generator), a projection
# discriminator with the hinge loss (the K+1 loss pulls every digit towards its most
# typical form, so its digits were far more certain to the evaluator than real ones),
# trained in bfloat16 where the hardware has it ("auto": emulated bfloat16 is slower
# than float32), with fused training-mode BatchNorm and G's output conv as phase
# convolutions (the same functions, faster), a slower discriminator and a faster
# generator, for as many steps as fit in the seed's training time. Why each choice,
# measured: docs/quality.md and docs/speed.md; EMA, TTUR, minibatch stddev, feature
# matching, mode seeking, spectral or no normalisation in D did not beat it and were
# removed (RETIRED above).
DEFAULT = TrainConfig(preset="default", compute_dtype="auto", d_learning_rate=1e-4,
                      g_learning_rate=8e-4, steps=10_000, objective="projection_hinge",
                      g_conditional_bn=True, fused_batchnorm=True, phase_upsampling=True)

PRESETS = {"seed": SEED, "default": DEFAULT}


def parse_overrides(items):
    """``["key=value", ...]`` -> {key: value typed as the TrainConfig field}.

    Raises ValueError naming the item for an unknown key or a badly typed value.
    """
    fields = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    out = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = RENAMED.get(key.strip(), key.strip())
        if not sep or key not in fields:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of {sorted(fields)}")
        kind = fields[key]   # bool, int, float or str: the dataclass annotations are classes
        try:
            out[key] = _parse_bool(text) if kind is bool else kind(text.strip())
        except ValueError:
            word = {bool: "true or false", int: "an integer", float: "a number",
                    str: "a string"}[kind]
            raise ValueError(f"--set {item!r}: {key} must be {word}") from None
    return out


def _parse_bool(text):
    value = {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower())
    if value is None:
        raise ValueError(text)
    return value


def get_preset(name):
    """Returns the named preset, or raises naming the choices."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None


def load_saved_config(workdir):
    """The config saved in ``workdir`` (config.json beside its checkpoints), or None if the
    workdir holds no run. Here, not in train.py, so the exporter reads it without the loop."""
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return TrainConfig.from_json(handle.read())
