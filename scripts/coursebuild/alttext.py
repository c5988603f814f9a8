"""Alt text for the course's figures, derived at build time (the notebooks are not edited).

Every figure in the course is the image output of a code cell, and the notebooks' template puts a caption next to
it: a markdown cell right after it (``*Figure 2. …*``, ``*What to look at:* …``, ``*The figure:* …``) or, where the
next cell is code or a new section, the paragraph that introduced it just before. ``figure_alt_text`` takes the
first sentences of that caption as plain text (markdown and TeX turned into words and symbols a screen reader can
read); without a caption it takes the plot's title from the cell's code (``set_title("…")``), and without either
it says which notebook and cell the figure comes from. ``add_alt_text`` stores the result in the cell's metadata
where MyST-NB reads image options (``mystnb.image.alt``: the site's ``<img alt>``); the decks' template reads the
same key.
"""

from __future__ import annotations

import copy
import re

import nbformat

IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")
MAX_ALT = 300  # characters: a sentence or two; the visible caption next to the figure says the rest

_TEX_WORDS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "Gamma": "Γ", "delta": "δ", "Delta": "Δ", "epsilon": "ε",
    "varepsilon": "ε", "zeta": "ζ", "eta": "η", "theta": "θ", "Theta": "Θ", "lambda": "λ", "Lambda": "Λ",
    "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "Sigma": "Σ", "tau": "τ", "phi": "φ",
    "varphi": "φ", "Phi": "Φ", "psi": "ψ", "omega": "ω", "Omega": "Ω", "times": "×", "cdot": "·", "cdots": "⋯",
    "ldots": "…", "dots": "…", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠",
    "approx": "≈", "propto": "∝", "infty": "∞", "to": "→", "rightarrow": "→", "leftarrow": "←", "odot": "⊙",
    "sum": "Σ", "prod": "Π", "in": "∈", "top": "ᵀ", "dagger": "†", "pm": "±", "sqrt": "√", "log": "log",
    "exp": "exp", "max": "max", "min": "min", "quad": " ", "qquad": " ", "mid": "|", "ell": "ℓ",
}  # fmt: skip
_LABELS = re.compile(
    r"^(what to look at|the figure(\s*\([^)]*\))?|what it shows|reading the figure)\s*[:.]\s*", re.IGNORECASE
)


def has_figure(cell) -> bool:
    """Whether a code cell has an image among its outputs."""
    if cell.get("cell_type") != "code":
        return False
    return any(m in out.get("data", {}) for out in cell.get("outputs", []) for m in IMAGE_MIMES)


def tex_to_text(tex: str) -> str:
    """TeX as plain text: ``\\gamma^{n-m}`` → ``γ^(n-m)``, ``\\times`` → ×, ``\\mathbf{x}`` → x."""
    if not isinstance(tex, str):
        raise TypeError(f"tex must be a string, got {type(tex).__name__}")
    text = re.sub(r"\\(?:mathrm|mathbf|mathit|text|textbf|operatorname|boldsymbol|mathcal|big|Big)\b", "", tex)
    text = re.sub(r"\\left|\\right", "", text)
    text = re.sub(r"\\([A-Za-z]+)", lambda m: _TEX_WORDS.get(m.group(1), m.group(1)), text)
    text = re.sub(r"\\[,;:!]", " ", text)
    text = text.replace("\\{", "{").replace("\\}", "}").replace("\\|", "‖")
    text = re.sub(r"([\^_])\{([^{}]*)\}", lambda m: f"{m.group(1)}({m.group(2)})" if len(m.group(2)) > 1 else
                  f"{m.group(1)}{m.group(2)}", text)  # fmt: skip
    text = text.replace("{", "").replace("}", "")
    return re.sub(r"\s+", " ", text).strip()


def markdown_to_text(markdown: str) -> str:
    """One markdown cell as plain text: headings, emphasis, links, code marks, HTML and TeX delimiters removed."""
    if not isinstance(markdown, str):
        raise TypeError(f"markdown must be a string, got {type(markdown).__name__}")
    text = re.sub(r"<details>.*?</details>", " ", markdown, flags=re.DOTALL)
    text = re.sub(r"\$\$(.+?)\$\$", lambda m: tex_to_text(m.group(1)), text, flags=re.DOTALL)
    text = re.sub(r"\$([^$\n]+)\$", lambda m: tex_to_text(m.group(1)), text)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"^\s{0,3}#{1,6}\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"^\s*[-*+]\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"(\*\*|\*|`)", "", text)
    text = _LABELS.sub("", re.sub(r"\s+", " ", text).strip())
    return text[:1].upper() + text[1:]


def shorten(text: str, limit: int = MAX_ALT) -> str:
    """``text`` cut to at most ``limit`` characters: at the last sentence end that fits, else at a word, with …."""
    if not isinstance(limit, int) or limit < 20:
        raise ValueError(f"limit must be an int of at least 20, got {limit!r}")
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in re.finditer(r"[.!?:](?=\s)", head)]
    if ends and ends[-1] >= limit // 3:
        return head[: ends[-1]].rstrip(":").strip()
    return head[: head.rfind(" ")].rstrip(",;: ") + " …" if " " in head else head[: limit - 1] + "…"


def plot_titles(source: str) -> list[str]:
    """The literal titles a plot cell sets: ``set_title("…")``, ``suptitle("…")``, ``plt.title("…")``."""
    return re.findall(r"(?:set_title|suptitle|plt\.title)\(\s*[rf]?([\"'])(.+?)\1", source)


def _introducing_text(markdown: str) -> str:
    """The text of a markdown cell without its heading lines (what a section says before its figure)."""
    lines = [ln for ln in markdown.splitlines() if not re.match(r"^\s{0,3}#{1,6}\s", ln)]
    return markdown_to_text("\n".join(lines))


def figure_alt_text(cells: list, index: int, where: str = "the notebook") -> str:
    """Alt text for the figure(s) of ``cells[index]`` (see the module docstring for the rule)."""
    if not isinstance(index, int) or not 0 <= index < len(cells):
        raise ValueError(f"index must be a cell index below {len(cells)}, got {index!r}")
    after = cells[index + 1] if index + 1 < len(cells) else None
    if after is not None and after.get("cell_type") == "markdown" and not after["source"].lstrip().startswith("#"):
        text = markdown_to_text(after["source"])
        if text:
            return shorten(text)
    titles = [t for _, t in plot_titles(cells[index].get("source", ""))]
    before = cells[index - 1] if index > 0 else None
    if before is not None and before.get("cell_type") == "markdown":
        text = _introducing_text(before["source"])
        if text:
            if titles:
                return shorten(f"{titles[0]}. {text}")
            return shorten(text)
    if titles:
        return shorten(". ".join(titles))
    return f"Figure drawn by code cell {index + 1} of {where}"


def add_alt_text(nb, where: str = "the notebook"):
    """A copy of notebook ``nb`` whose figure cells carry ``metadata.mystnb.image.alt``; the original is kept
    as it is. A cell that already sets an alt text keeps it."""
    if not isinstance(nb, nbformat.NotebookNode):
        raise TypeError(f"nb must be an nbformat NotebookNode, got {type(nb).__name__}")
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        if not has_figure(cell):
            continue
        image = cell.metadata.setdefault("mystnb", {}).setdefault("image", {})
        image.setdefault("alt", figure_alt_text(nb.cells, i, where))
    return nb


def alt_text_of(cell) -> str | None:
    """The alt text ``add_alt_text`` stored in a cell, None when there is none."""
    return cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt")
