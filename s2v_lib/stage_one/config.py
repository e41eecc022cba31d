"""What decides stage one's outputs: the distillation config and the prepared data's fingerprint."""
import hashlib
from dataclasses import dataclass

from ..config import Profile
from ..models.cpc import CPCConfig
from ..models.students import StudentConfig


@dataclass
class DistillConfig:
    """Everything that decides the speech features (the cache key, with the data and teacher fingerprints)."""
    cpc: CPCConfig
    students: StudentConfig
    k_frames: int = 5               # K frames averaged for the emotion target, Eq. (1) (paper: unspecified)
    w_pooling: str = "mean"         # what the students read: "mean" = c_t averaged over the clip (our default,
                                    # docs/design.md §10.11), "last" = w = c_T (the paper's reading, always evaluated too)
    seed: int = 0

    @classmethod
    def for_profile(cls, profile: Profile, seed: int = 0, **student_overrides) -> "DistillConfig":
        return cls(cpc=CPCConfig.for_scale(profile.scale, seed),
                   students=StudentConfig.for_scale(profile.scale, seed, **student_overrides), seed=seed)


def data_key(data) -> str:
    """A fingerprint of a prepared dataset: its directory name (a hash of its config) and its clip/split list."""
    m = data.manifest[["clip_id", "split", "n_frames"]].to_csv(index=False)
    return hashlib.sha1((data.root.name + m).encode()).hexdigest()[:12]
