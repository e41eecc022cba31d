"""Dataset readers: each lists a dataset root's clips as ClipSource rows; preparation does the rest.

CREMA-D (and the twin, which writes the same layout):
    VideoFlash/<name>.flv   (or VideoMP4/<name>.mp4)   video, 30 fps
    AudioWAV/<name>.wav     audio of record, 16 kHz    (AudioMP3/<name>.mp3 used only when the WAV is absent)
    VideoDemographics.csv   ActorID, Age, Sex, Race, Ethnicity
    GroundTruth/<name>.npz  twin only: face boxes (the face source for "synthetic", a check for the detector)
VoxCeleb2 (the twin writes it with `synth --layout voxceleb2`):
    dev|test/mp4/idXXXXX/<video>/<clip>.mp4   video, 25 fps, with an AAC track (the audio when no aac/ tree)
    dev|test/aac/idXXXXX/<video>/<clip>.m4a   optional: the audio of record when present
    vox2_meta.csv                             optional: VoxCeleb2 ID, VGGFace2 ID, Gender, Set
Every file on disk is listed (clips outside the profile with selected=False) so that header checks
can report the dataset's defects; only selected clips are decoded and prepared.
"""
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Profile
from ..errors import UserError
from .crema_meta import demographics, parse_clip_name, read_demographics, select_actors


@dataclass
class ClipSource:
    clip_id: str
    video: Path                        # where the video should be (a missing file is a defect)
    audio: Path                        # the audio of record (CREMA-D: the WAV; VoxCeleb2: m4a or the mp4 itself)
    meta: dict                         # actor, sentence, emotion, level
    boxes: Path | None                 # ground-truth sidecar .npz with face_box (T_src, 4), if the dataset has one
    detect: bool                       # True: find faces with the detector (sidecar boxes, if any, only checked)
    selected: bool = True              # inside the profile: decoded and prepared (else header checks only)


JUNK = {".ds_store", "thumbs.db", "desktop.ini", "__macosx"}   # what Finder, Explorer and zip tools leave


def _unexpected(path: str) -> dict:
    return {"file": path, "reason": "unexpected file in the dataset", "value": ""}


def _skip(name: str) -> bool:
    """Junk that never counts: hidden files (._* AppleDouble included), OS litter, atomic-write leftovers."""
    return name.startswith(".") or name.lower() in JUNK or ".tmp-" in name


def _ext(name: str) -> str:
    """The extension, lower-cased: copies from other systems write .WAV, .FLV, .Wav."""
    return os.path.splitext(name)[1].lower()


def scan(folder: Path, root: Path) -> list:
    """os.scandir entries of `folder` (junk left out), sorted by name; an unreadable folder is the user's to fix."""
    try:
        return sorted((e for e in os.scandir(folder) if not _skip(e.name)), key=lambda e: e.name)
    except OSError as e:
        raise UserError(f"cannot read the folder {folder} ({e.strerror}); make it readable "
                        f"(e.g. chmod -R u+rX {root}) and prepare again") from None


class CremaLayoutReader:
    """CREMA-D's release layout; the twin writes the same plus GroundTruth/ sidecars and twin.json."""
    dirs = ("AudioWAV", "AudioMP3", "VideoFlash", "VideoMP4", "GroundTruth")

    def __init__(self, root: Path, profile: Profile, dataset: str, detect: bool):
        self.root, self.profile, self.dataset, self.detect = root, profile, dataset, detect
        if not any((root / d).is_dir() for d in ("VideoFlash", "VideoMP4", "AudioWAV")):
            raise UserError(f"{root} has no VideoFlash/, VideoMP4/ or AudioWAV/ folder, so it is not a "
                            f"{dataset} dataset root; pass the folder that contains them as --root")
        # FLV is CREMA-D's real video format; MP4 is the fallback for copies that only ship it
        self.video_dir, self.video_ext = next(((d, e) for d, e in (("VideoFlash", ".flv"), ("VideoMP4", ".mp4"))
                                               if (root / d).is_dir()), (None, None))
        if self.video_dir is None:
            raise UserError(f"{root} has AudioWAV/ but no VideoFlash/ or VideoMP4/; video is needed to "
                            "prepare faces: add the video folder")
        if dataset == "synthetic" and not (root / "twin.json").exists():
            raise UserError(f"{root} is an unfinished twin (no twin.json, which the generator writes last); "
                            f"rerun `python -m s2v_lib synth --out {root}` to finish it")
        if dataset == "crema-d" and not (root / "VideoDemographics.csv").is_file():
            raise UserError(f"{root / 'VideoDemographics.csv'} is missing; CREMA-D ships it at the release root "
                            "(it holds each actor's sex, age and race): copy it there")
        self.sidecars = (root / "GroundTruth").is_dir()
        if not detect and not self.sidecars:
            raise UserError(f"{root} has no GroundTruth/ face-box sidecars; rebuild the twin with "
                            "`python -m s2v_lib synth`, or prepare with --faces detect (the dlib detector)")

    def listing(self) -> list[tuple[str, str]]:
        """(relative path, "media" | "meta" | "stray") of every file the reader reads or reports: the cache key."""
        out = []
        for d in self.dirs:
            if (self.root / d).is_dir():
                exts = {self.video_ext, ".wav", ".mp3", ".npz"}
                out += [(f"{d}/{e.name}", "media" if _ext(e.name) in exts and e.is_file() else "stray")
                        for e in scan(self.root / d, self.root)]
        demo = self.root / "VideoDemographics.csv"
        if demo.exists():
            out.append((demo.name, "meta"))
        return sorted(out)

    def demographics(self) -> pd.DataFrame:
        demo = self.root / "VideoDemographics.csv"
        return read_demographics(demo) if demo.exists() else demographics()

    def unseen_actors(self):
        return None   # CREMA-D has no official split: the profile's n_unseen actors are held out

    def clips(self) -> tuple[list[ClipSource], list[dict]]:
        """(every clip on disk, selected=True for the profile's; quarantine rows for stray files)."""
        p = self.profile
        actors = set(select_actors(p.n_actors))
        found, bad = {}, []   # (folder, stem) -> file name, whatever the case of its extension
        for d, ext in ((self.video_dir, self.video_ext), ("AudioWAV", ".wav"), ("AudioMP3", ".mp3")):
            if (self.root / d).is_dir():
                for e in scan(self.root / d, self.root):
                    stem = e.name[: -len(ext)]
                    if _ext(e.name) != ext or not e.is_file():
                        bad.append(_unexpected(f"{d}/{e.name}"))
                    elif (d, stem) in found:   # 1001_DFA_ANG_XX.wav beside 1001_DFA_ANG_XX.WAV
                        bad.append({"file": f"{d}/{e.name}", "reason": "second copy of a clip (extension case "
                                    "differs)", "value": found[d, stem]})
                    else:
                        found[d, stem] = e.name
        out = []
        stems = {stem for _, stem in found}
        for stem in sorted(stems):
            try:
                c = parse_clip_name(stem)
            except ValueError:
                bad += [{"file": f"{d}/{found[d, s_]}", "reason": "not a CREMA-D clip name", "value": ""}
                        for d, s_ in sorted(found) if s_ == stem]
                continue
            selected = (c.actor in actors and (not p.sentences or c.sentence in p.sentences)
                        and (not p.emotions or c.emotion in p.emotions) and (not p.levels or c.level in p.levels))
            path = lambda d, ext: self.root / d / found.get((d, stem), f"{stem}{ext}")
            audio = path("AudioWAV", ".wav")
            mp3 = path("AudioMP3", ".mp3")
            if ("AudioWAV", stem) not in found and ("AudioMP3", stem) in found:   # the WAV is the audio of record
                audio = mp3
            boxes = self.root / "GroundTruth" / f"{stem}.npz"
            out.append(ClipSource(stem, path(self.video_dir, self.video_ext), audio,
                                  meta={"actor": c.actor, "sentence": c.sentence, "emotion": c.emotion, "level": c.level},
                                  boxes=boxes if self.sidecars else None, detect=self.detect, selected=selected))
        return out, bad


VOX_ID = re.compile(r"^id(\d+)$")
VOX_META = "vox2_meta.csv"


def read_vox_meta(path: Path) -> pd.DataFrame:
    """VoxCeleb2's meta CSV (padded with spaces in the release) -> actor, sex, set."""
    try:
        d = pd.read_csv(path, skipinitialspace=True, dtype=str)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise UserError(f"{path} cannot be read as CSV ({type(e).__name__}); fix or remove it "
                        "(it is optional: it only gives each identity's gender)") from None
    d.columns = [c.strip() for c in d.columns]
    need = {"VoxCeleb2 ID", "Gender"}
    if not need <= set(d.columns):
        raise UserError(f"{path} lacks columns {sorted(need - set(d.columns))}; expected VoxCeleb2's "
                        "vox2_meta.csv (VoxCeleb2 ID, VGGFace2 ID, Gender, Set)")
    ids = d["VoxCeleb2 ID"].str.strip()
    ok = ids.str.match(VOX_ID)
    sex = d["Gender"].str.strip().str.lower().map({"m": "Male", "f": "Female", "male": "Male", "female": "Female"})
    return pd.DataFrame({"actor": ids[ok].str[2:].astype(int), "sex": sex[ok].fillna("Unknown")})


class VoxCeleb2Reader:
    """VoxCeleb2: identities are the actors; every clip is 'NEU' (the dataset has no emotion labels),
    the YouTube video id stands in the sentence column; the dev/test split is the dataset's own."""
    dataset = "voxceleb2"

    def __init__(self, root: Path, profile: Profile, detect: bool = True):
        self.root, self.profile, self.detect = root, profile, detect
        self.sets = [s for s in ("dev", "test") if (root / s / "mp4").is_dir()]
        if not self.sets:
            raise UserError(f"{root} has no dev/mp4/ or test/mp4/ folder, so it is not a VoxCeleb2 root; pass the "
                            "folder that contains dev/ (and test/) as --root")
        if not detect:
            raise UserError("VoxCeleb2 has no face-box sidecars; prepare it with the detector (--faces detect)")
        meta = root / VOX_META
        self.meta = read_vox_meta(meta) if meta.exists() else None
        self._walked, self._aac_dirs = None, {}

    def _walk(self):
        """[(set, identity dir, video, clip file name)] of every mp4, and stray files; one pass, cached."""
        if self._walked is None:
            found, bad = [], []
            for s in self.sets:
                base = self.root / s / "mp4"
                for ident in scan(base, self.root):
                    if not (ident.is_dir() and VOX_ID.match(ident.name)):
                        bad.append(_unexpected(f"{s}/mp4/{ident.name}"))
                        continue
                    for video in scan(Path(ident.path), self.root):
                        if not video.is_dir():
                            bad.append(_unexpected(f"{s}/mp4/{ident.name}/{video.name}"))
                            continue
                        for f in scan(Path(video.path), self.root):
                            if _ext(f.name) == ".mp4" and f.is_file():
                                found.append((s, ident.name, video.name, f.name))
                            else:
                                bad.append(_unexpected(f"{s}/mp4/{ident.name}/{video.name}/{f.name}"))
            self._walked = found, bad
        return self._walked

    def _aac(self, s: str, ident: str, video: str, stem: str) -> Path | None:
        """The clip's m4a, whatever the case of its extension, or None."""
        folder = self.root / s / "aac" / ident / video
        if folder not in self._aac_dirs:
            self._aac_dirs[folder] = ({os.path.splitext(e.name)[0]: Path(e.path) for e in scan(folder, self.root)
                                       if _ext(e.name) == ".m4a"} if folder.is_dir() else {})
        return self._aac_dirs[folder].get(stem)

    def listing(self) -> list[tuple[str, str]]:
        out = []
        for top in [*(self.root / s for s in self.sets), self.root / "GroundTruth"]:
            if top.is_dir():
                for d, dirs, files in os.walk(top):
                    dirs[:] = [x for x in dirs if not _skip(x)]
                    out += [(os.path.relpath(os.path.join(d, f), self.root),
                             "media" if _ext(f) in (".mp4", ".m4a", ".npz") else "stray") for f in files if not _skip(f)]
        if (self.root / VOX_META).exists():
            out.append((VOX_META, "meta"))
        return sorted(out)

    def identities(self) -> dict[int, str]:
        """actor -> set ("dev" | "test") of every identity on disk."""
        return {int(i[2:]): s for s, i, _, _ in self._walk()[0]}

    def selected_actors(self) -> set[int]:
        """All identities, or profile.n_actors of them: n_unseen from test, the rest from dev (lowest ids)."""
        ids = self.identities()
        n = self.profile.n_actors
        if n is None or n >= len(ids):
            return set(ids)
        dev = sorted(a for a, s in ids.items() if s == "dev")
        test = sorted(a for a, s in ids.items() if s == "test")
        if dev and test:
            k = min(len(test), self.profile.n_unseen)
            return set(test[:k] + dev[: n - k])
        return set(sorted(ids)[:n])

    def clips_per_actor(self) -> int | None:
        """A CREMA-D profile's clips per actor (sentences x emotions x levels), the cap per identity."""
        p = self.profile
        if not (p.sentences and p.emotions and p.levels):
            return None
        return len(p.sentences) * len(p.emotions) * len(p.levels)

    def demographics(self) -> pd.DataFrame:
        actors = sorted(self.identities())
        sex = dict(zip(self.meta.actor, self.meta.sex)) if self.meta is not None else {}
        return pd.DataFrame({"actor": actors, "sex": [sex.get(a, "Unknown") for a in actors],
                             "age": np.nan, "age_group": "Unknown", "race": "Unknown"})

    def unseen_actors(self):
        """The test set's identities (disjoint from dev's in VoxCeleb2), when both sets are present."""
        ids = self.identities()
        if set(ids.values()) != {"dev", "test"}:
            return None
        return sorted(a for a in self.selected_actors() if ids[a] == "test")

    def clips(self) -> tuple[list[ClipSource], list[dict]]:
        found, bad = self._walk()
        chosen, cap, count = self.selected_actors(), self.clips_per_actor(), {}
        out = []
        for s, ident, video, name in found:
            actor, clip = int(ident[2:]), os.path.splitext(name)[0]
            rel = Path(s) / "mp4" / ident / video / name
            m4a = self._aac(s, ident, video, clip)
            sidecar = self.root / "GroundTruth" / s / ident / video / f"{clip}.npz"
            selected = actor in chosen and (cap is None or count.get(actor, 0) < cap)
            count[actor] = count.get(actor, 0) + selected
            out.append(ClipSource(f"{ident}_{video}_{clip}", self.root / rel, m4a or self.root / rel,
                                  meta={"actor": actor, "sentence": video, "emotion": "NEU", "level": "XX", "set": s},
                                  boxes=sidecar if sidecar.exists() else None, detect=True, selected=selected))
        return out, list(bad)


def make_reader(dataset: str, root: Path, profile: Profile, faces: str = "auto"):
    """The reader for `dataset`. faces: "sidecar" (the twin's ground-truth boxes), "detect" (dlib), or
    "auto": sidecars for the synthetic twin, the detector for real datasets."""
    if faces not in ("auto", "sidecar", "detect"):
        raise UserError(f"unknown face source {faces!r}; choose auto, sidecar or detect")
    detect = faces == "detect" or (faces == "auto" and dataset != "synthetic")
    if dataset in ("synthetic", "crema-d"):
        return CremaLayoutReader(root, profile, dataset, detect)
    if dataset == "voxceleb2":
        return VoxCeleb2Reader(root, profile, detect)
    raise UserError(f"unknown dataset {dataset!r}; choose synthetic, crema-d or voxceleb2")
