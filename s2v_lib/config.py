"""Profiles: what data, what frame size, how much training. One frozen dataclass per profile.

Stage modules (teachers, CPC, students, composer, ...) keep their own training config dataclass
and pick its size from `profile.scale`; this file only says what the profiles are.
"""
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from .errors import UserError

EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")


@dataclass(frozen=True)
class Profile:
    name: str
    n_actors: int | None              # None: all 91; else balanced by sex, lowest ActorIDs first
    sentences: tuple[str, ...]        # sentence codes; () = all
    emotions: tuple[str, ...]         # emotion codes; () = all
    levels: tuple[str, ...]           # intensity levels kept ("XX" etc.); () = all
    frame_size: int                   # prepared face crops are frame_size x frame_size
    n_unseen: int                     # whole actors held out as unseen voices (balanced by sex)
    scale: str                        # training size for the stage configs: "smoke" | "cpu" | "gpu" | "paper"
    budget_min: float                 # the whole chain 01-06, minutes (docs/design.md §4)
    fps: int = 25                     # prepared video frame rate
    sample_rate: int = 16000          # prepared audio rate
    split_fractions: tuple[float, float, float] = (0.70, 0.15, 0.15)
    extra: dict = field(default_factory=dict, compare=False)

    def data_key(self) -> dict:
        """The fields that decide what the twin contains (its cache key)."""
        return {k: getattr(self, k) for k in ("n_actors", "sentences", "emotions", "levels", "frame_size")}

    def hash(self, *keys) -> str:
        payload = {k: getattr(self, k) for k in keys} if keys else dataclasses.asdict(self)
        return hashlib.sha1(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()[:10]


PROFILES = {
    "smoke": Profile("smoke", n_actors=12, sentences=("DFA", "TIE", "TSI"), emotions=("HAP", "NEU"),
                     levels=("XX",), frame_size=48, n_unseen=2, scale="smoke", budget_min=5),
    "cpu": Profile("cpu", n_actors=None, sentences=("DFA", "TIE", "TSI", "ITS"), emotions=EMOTIONS,
                   levels=("XX",), frame_size=64, n_unseen=10, scale="cpu", budget_min=60),
    "gpu": Profile("gpu", n_actors=None, sentences=(), emotions=(), levels=(), frame_size=128,
                   n_unseen=10, scale="gpu", budget_min=25),
    "paper": Profile("paper", n_actors=None, sentences=(), emotions=(), levels=(), frame_size=128,
                     n_unseen=10, scale="paper", budget_min=float("inf")),
}


def resolve_profile_name(name: str) -> str:
    if name == "auto":
        from .device import has_cuda
        return "gpu" if has_cuda() else "cpu"
    if name not in PROFILES:
        raise UserError(f"unknown profile {name!r}; choose one of: {', '.join([*PROFILES, 'auto'])}")
    return name


def get_profile(name: str) -> Profile:
    return PROFILES[resolve_profile_name(name)]


def as_profile(profile) -> Profile:
    """A Profile from a name ("cpu", "auto", ...) or a Profile (returned as it is)."""
    return profile if isinstance(profile, Profile) else get_profile(profile)

