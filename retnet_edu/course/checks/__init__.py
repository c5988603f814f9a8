"""Self-checks for the notebooks' exercises, one module per notebook (``ch00`` … ``ch12``) on top of ``_common``.

Each checker takes the learner's answer and prints one line: ``✓ …`` when it is right, ``✗ …`` with a hint
that points at the idea (never the answer) when it is not, and ``… not answered yet`` while the answer is
still the placeholder ``...``. It returns a truthy/falsy ``Verdict`` and never raises on a wrong answer, so a
notebook with unfinished exercises still runs top to bottom. The solutions in ``notebooks/solutions/`` call the same
checkers and show ✓.

A notebook reaches them all through this package: ``from retnet_edu.course import checks; checks.ex03_…(answer)``.
"""

from retnet_edu.course.checks._common import Verdict, check_close, report, unanswered
from retnet_edu.course.checks.ch00 import ex00_gamma_for_memory, ex00_half_life
from retnet_edu.course.checks.ch01 import (
    ex01_linear_attention_rnn,
    ex01_power_from_eigenvalues,
    ex01_relative_score,
    ex01_state_weight,
)
from retnet_edu.course.checks.ch02 import (
    ex02_decay_mask,
    ex02_lm_schedule,
    ex02_slowest_memory,
    ex02_tokens_for_weight,
)
from retnet_edu.course.checks.ch03 import (
    ex03_cost_ratio,
    ex03_multihead_retention,
    ex03_parallel_retention,
    ex03_recurrent_retention,
)
from retnet_edu.course.checks.ch04 import ex04_full_turn, ex04_rope_angles, ex04_rotate, ex04_rotate_every_two
from retnet_edu.course.checks.ch05 import (
    ex05_balance_chunk_size,
    ex05_block_entries,
    ex05_decay_split,
    ex05_merge_halves,
)
from retnet_edu.course.checks.ch06 import ex06_eps_rms, ex06_find_the_bug, ex06_float16_heads, ex06_overflow_length
from retnet_edu.course.checks.ch07 import ex07_ffn_width, ex07_long_prompt, ex07_model_params, ex07_official_state
from retnet_edu.course.checks.ch08 import ex08_initial_loss, ex08_kv_crossover, ex08_lr_schedule
from retnet_edu.course.checks.ch09 import ex09_batch_fit, ex09_ideal_ratio, ex09_kv_cache_gib, ex09_overhead_speedup
from retnet_edu.course.checks.ch10 import (
    ex10_causal_fft_conv,
    ex10_guessing_plateau,
    ex10_hyena_ffn_width,
    ex10_listops_value,
)
from retnet_edu.course.checks.ch11 import ex11_gate_mask, ex11_gated_memory, ex11_reset_gates, ex11_retnet_log_gamma
from retnet_edu.course.checks.ch12 import (
    ex12_bounded_beta,
    ex12_delta_writes,
    ex12_half_overwrite,
    ex12_hybrid_state,
)

__all__ = [
    "Verdict",
    "report",
    "unanswered",
    "check_close",
    "ex00_gamma_for_memory",
    "ex00_half_life",
    "ex01_state_weight",
    "ex01_linear_attention_rnn",
    "ex01_power_from_eigenvalues",
    "ex01_relative_score",
    "ex02_decay_mask",
    "ex02_tokens_for_weight",
    "ex02_lm_schedule",
    "ex02_slowest_memory",
    "ex03_parallel_retention",
    "ex03_recurrent_retention",
    "ex03_multihead_retention",
    "ex03_cost_ratio",
    "ex04_rotate_every_two",
    "ex04_rotate",
    "ex04_full_turn",
    "ex04_rope_angles",
    "ex05_decay_split",
    "ex05_merge_halves",
    "ex05_balance_chunk_size",
    "ex05_block_entries",
    "ex06_overflow_length",
    "ex06_float16_heads",
    "ex06_eps_rms",
    "ex06_find_the_bug",
    "ex07_model_params",
    "ex07_ffn_width",
    "ex07_official_state",
    "ex07_long_prompt",
    "ex08_initial_loss",
    "ex08_lr_schedule",
    "ex08_kv_crossover",
    "ex09_kv_cache_gib",
    "ex09_ideal_ratio",
    "ex09_overhead_speedup",
    "ex09_batch_fit",
    "ex10_listops_value",
    "ex10_causal_fft_conv",
    "ex10_guessing_plateau",
    "ex10_hyena_ffn_width",
    "ex11_gate_mask",
    "ex11_reset_gates",
    "ex11_retnet_log_gamma",
    "ex11_gated_memory",
    "ex12_delta_writes",
    "ex12_half_overwrite",
    "ex12_hybrid_state",
    "ex12_bounded_beta",
]
