"""Saving figures so the same run gives the same bytes (fixed metadata, no timestamps)."""
from pathlib import Path

import matplotlib

from .atomic import atomic_path

_PNG_META = {"Software": None}
_PDF_META = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None}


def save_figure(fig, path, dpi: int = 120) -> list[Path]:
    """Save `fig` as PNG (and PDF when path ends in .pdf or `both`), deterministically."""
    path = Path(path)
    out = []
    suffixes = [path.suffix] if path.suffix in (".png", ".pdf") else [".png"]
    for suffix in suffixes:
        p = path.with_suffix(suffix)
        meta = _PNG_META if suffix == ".png" else _PDF_META
        with atomic_path(p) as tmp:
            fig.savefig(tmp, dpi=dpi, metadata=meta, bbox_inches="tight", format=suffix[1:])
        out.append(p)
    return out


def save_png_pdf(fig, stem, dpi: int = 120) -> list[Path]:
    """figures/<profile>/fig3 -> fig3.png and fig3.pdf."""
    stem = Path(stem)
    return save_figure(fig, stem.with_suffix(".png"), dpi) + save_figure(fig, stem.with_suffix(".pdf"), dpi)


def use_headless_backend() -> None:
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
