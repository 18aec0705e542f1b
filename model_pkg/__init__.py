"""model_pkg: a conditional GAN of handwritten digits, trained, exported and served.

The training side lives here; see README.md for the data flow. Importing this
package is cheap: TensorFlow loads only when a command or module needs it.
"""

__version__ = "0.1.0"
