"""retnet_edu: the Retentive Network (Sun et al. 2023, arXiv 2307.08621) from first principles.

Layers, lowest first (a module imports only from those above it):
``notebook`` → ``retention`` → ``position`` → ``layers`` → ``model`` → ``torchscale_compat``.
"""

__version__ = "0.1.0"
