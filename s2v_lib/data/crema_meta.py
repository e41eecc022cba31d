"""The real CREMA-D tables (vendored in data/meta with their licence) and clip-name parsing.

Clip names are ACTOR_SENTENCE_EMOTION_LEVEL, e.g. 1001_DFA_ANG_XX.
"""
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pandas as pd

from ..errors import UserError

SENTENCE_TEXT = {
    "IEO": "It's eleven o'clock.", "TIE": "That is exactly what happened.",
    "IOM": "I'm on my way to the meeting.", "IWW": "I wonder what this is about.",
    "TAI": "The airplane is almost full.", "MTI": "Maybe tomorrow it will be cold.",
    "IWL": "I would like a new alarm clock.", "ITH": "I think I have a doctor's appointment.",
    "DFA": "Don't forget a jacket.", "ITS": "I think I've seen this before.",
    "TSI": "The surface is slick.", "WSI": "We'll stop in a couple of minutes.",
}
EMOTION_NAMES = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
LEVELS = ("LO", "MD", "HI", "XX")
AGE_GROUPS = ((20, 34, "20-34"), (35, 49, "35-49"), (50, 120, "50+"))


def age_group(age: int) -> str:
    for lo, hi, name in AGE_GROUPS:
        if lo <= age <= hi:
            return name
    raise ValueError(f"age {age} outside every group")


@dataclass(frozen=True)
class ClipName:
    actor: int
    sentence: str
    emotion: str
    level: str

    @property
    def name(self) -> str:
        return f"{self.actor}_{self.sentence}_{self.emotion}_{self.level}"


def parse_clip_name(stem: str) -> ClipName:
    parts = stem.split("_")
    if (len(parts) != 4 or not parts[0].isdigit() or parts[1] not in SENTENCE_TEXT
            or parts[2] not in EMOTION_NAMES or parts[3] not in LEVELS):
        raise ValueError(f"{stem!r} is not a CREMA-D clip name (ACTOR_SENTENCE_EMOTION_LEVEL, e.g. 1001_DFA_ANG_XX)")
    return ClipName(int(parts[0]), parts[1], parts[2], parts[3])


def _meta_file(name: str):
    return resources.files("s2v_lib.data").joinpath("meta", name)


@lru_cache(maxsize=None)
def demographics() -> pd.DataFrame:
    """91 rows: actor, age, sex, race, ethnicity, age_group."""
    with _meta_file("VideoDemographics.csv").open() as f:
        d = pd.read_csv(f)
    d = d.rename(columns={"ActorID": "actor", "Age": "age", "Sex": "sex", "Race": "race", "Ethnicity": "ethnicity"})
    d["age_group"] = d["age"].map(age_group)
    return d


def read_demographics(path) -> pd.DataFrame:
    """A user's VideoDemographics.csv (real release), with the same columns as `demographics()`.

    Checked whole before any clip is decoded: every actor once, with a whole-number ID and age."""
    fix = "fix that row (CREMA-D's VideoDemographics.csv gives every actor's ID, age, sex and race once)"
    try:
        d = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except FileNotFoundError:
        raise UserError(f"demographics file {path} is missing; CREMA-D ships it as VideoDemographics.csv "
                        "at the dataset root") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty; copy CREMA-D's VideoDemographics.csv there again") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise UserError(f"{path} cannot be read as CSV ({type(e).__name__}); copy CREMA-D's "
                        "VideoDemographics.csv there again") from None
    d.columns = [str(c).strip() for c in d.columns]
    need = {"ActorID", "Age", "Sex", "Race", "Ethnicity"}
    if not need <= set(d.columns):
        raise UserError(f"{path} lacks columns {sorted(need - set(d.columns))}; expected CREMA-D's VideoDemographics.csv")
    if d.empty:
        raise UserError(f"{path} has a header but no actors; copy CREMA-D's VideoDemographics.csv there again")
    for col in ("ActorID", "Age"):
        v = d[col].str.strip()
        bad = v.isna() | ~v.fillna("").str.fullmatch(r"\d+")
        if bad.any():
            i = int(bad.idxmax())
            what = "blank" if pd.isna(d[col][i]) or not str(d[col][i]).strip() else repr(d[col][i])
            raise UserError(f"{path} line {i + 2}: {col} is {what}, not a whole number; {fix}")
        d[col] = v.astype(int)
    dup = d["ActorID"].duplicated()
    if dup.any():
        raise UserError(f"{path}: actor {d['ActorID'][dup].iloc[0]} has more than one row; keep one and delete the others")
    outside = ~d["Age"].map(lambda a: any(lo <= a <= hi for lo, hi, _ in AGE_GROUPS))
    if outside.any():
        i = int(outside.idxmax())
        raise UserError(f"{path} line {i + 2}: Age {d['Age'][i]} is outside every age group "
                        f"({', '.join(g for *_, g in AGE_GROUPS)}); {fix}")
    d = d.rename(columns={"ActorID": "actor", "Age": "age", "Sex": "sex", "Race": "race", "Ethnicity": "ethnicity"})
    for col in ("sex", "race", "ethnicity"):
        d[col] = d[col].str.strip()
    d["age_group"] = d["age"].map(age_group)
    return d


@lru_cache(maxsize=None)
def all_clip_names() -> tuple[str, ...]:
    """Every clip name of the real release (7441), in the release's order."""
    with _meta_file("SentenceFilenames.csv").open() as f:
        return tuple(pd.read_csv(f)["Filename"])


def select_actors(n_actors: int | None) -> list[int]:
    """All actors, or n balanced by sex (lowest ActorIDs first): deterministic."""
    d = demographics().sort_values("actor")
    if n_actors is None or n_actors >= len(d):
        return d["actor"].tolist()
    n_m = n_actors // 2
    males = d[d.sex == "Male"]["actor"].tolist()[:n_m]
    females = d[d.sex == "Female"]["actor"].tolist()[:n_actors - n_m]
    return sorted(males + females)


def select_clips(profile) -> list[ClipName]:
    """The real clip names a profile keeps, in release order."""
    actors = set(select_actors(profile.n_actors))
    out = []
    for stem in all_clip_names():
        c = parse_clip_name(stem)
        if (c.actor in actors and (not profile.sentences or c.sentence in profile.sentences)
                and (not profile.emotions or c.emotion in profile.emotions)
                and (not profile.levels or c.level in profile.levels)):
            out.append(c)
    return out
