"""The input/output contract every stage imports (see ../shared/CONTRACT.md).

Pure Python on purpose: no TensorFlow, no NumPy. Training, export, serving and
the clients all read names, shapes and ranges from here, so a rename happens in
one place and the exported signatures can never drift from the docs.
"""

# --- The served model -------------------------------------------------------
MODEL_NAME = "cgan"                 # TF Serving model name and models-dir subfolder
SIGNATURE_NAME = "serving_default"  # the SavedModel signature users call

LABEL_KEY = "label"    # input: int32 [N], the digit to draw
NOISE_KEY = "noise"    # input: float32 [N, NOISE_DIM], latent vector
IMAGES_KEY = "images"  # output: float32 [N, 28, 28, 1], ink in [0, 1]

LABEL_DTYPE = "int32"
NOISE_DTYPE = "float32"
IMAGES_DTYPE = "float32"

NUM_CLASSES = 10          # digits 0..9
NOISE_DIM = 100           # latent size of the generator
IMAGE_SIZE = 28           # MNIST height == width
IMAGE_CHANNELS = 1
IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, IMAGE_CHANNELS)

LABEL_MIN, LABEL_MAX = 0, NUM_CLASSES - 1   # inclusive
PIXEL_MIN, PIXEL_MAX = 0.0, 1.0             # 0 background, 1 ink (MNIST / 255)
PARITY_ATOL = 1e-5                          # every runtime agrees within this
# At most this many rows per request on the SavedModel (TF Serving included):
# its graph refuses more, so that one request cannot take the server's memory
# or its whole batch queue; the remote clients check it first. The ONNX file
# has no limit. docs/tf_serving.md, "Batching".
MAX_REQUEST_ROWS = 4096
# Every graph (SavedModel, model.onnx, hence TF Serving, ONNX Runtime, the browser)
# bounds the noise before the generator: each value clipped to +-NOISE_CLIP, then
# each row longer than NOISE_NORM_CLIP (L2) scaled down to it. Noise inside both is
# passed bit for bit. Training noise (TensorFlow's Box-Muller) cannot exceed
# sqrt(-2 ln 1e-7) per value, the portable noise (model_pkg/noise.py)
# sqrt(-2 ln 2**-32); a standard normal passes either bound with probability about
# 1e-15 (per value, per row of 100). Far outside them float32 rounding made the
# runtimes disagree beyond PARITY_ATOL and 3e38 overflowed to NaN images; the
# per-value clip alone still let rows of all +-8 disagree. docs/reliability.md.
NOISE_CLIP = 8.0
NOISE_NORM_CLIP = 16.0

# --- The discriminator's K+1 head (training side only) ----------------------
FAKE_CLASS = NUM_CLASSES              # index 10 means "generated"
NUM_DISC_OUTPUTS = NUM_CLASSES + 1    # 10 digits + fake

# --- Data -------------------------------------------------------------------
MNIST_TRAIN_SIZE = 60_000
MNIST_TEST_SIZE = 10_000
MNIST_PIXEL_MAX = 255                 # uint8 pixels; contract pixel = value / 255

# --- Artifacts --------------------------------------------------------------
DEFAULT_MODELS_DIR = "artifacts/models"   # relative to the project root
MANIFEST_NAME = "manifest.json"
ONNX_NAME = "model.onnx"
WARMUP_RELPATH = "assets.extra/tf_serving_warmup_requests"


def signature_description():
    """The signature as plain data (for manifests, metadata and docs)."""
    return {
        "name": SIGNATURE_NAME,
        "inputs": {
            LABEL_KEY: {"dtype": LABEL_DTYPE, "shape": [None],
                        "range": [LABEL_MIN, LABEL_MAX]},
            NOISE_KEY: {"dtype": NOISE_DTYPE, "shape": [None, NOISE_DIM],
                        "range": "finite", "clipped_to": [-NOISE_CLIP, NOISE_CLIP],
                        "row_norm_clipped_to": NOISE_NORM_CLIP},
        },
        "outputs": {
            IMAGES_KEY: {"dtype": IMAGES_DTYPE, "shape": [None, *IMAGE_SHAPE],
                         "range": [PIXEL_MIN, PIXEL_MAX]},
        },
    }
