"""What the notebooks use and nothing else needs: the preamble (``course_setup``), the figures (``viz``), the
exercise checkers (``checks``) and the proof lab of notebook 06 (``numerics``, ``buggy``, ``official_scaling``).

A notebook starts with ``from retnet_edu.course import course_setup, get_device``.
"""

from retnet_edu.course.notebook import below, course_setup, get_device, repo_root, seed_everything

__all__ = ["below", "course_setup", "get_device", "repo_root", "seed_everything"]
