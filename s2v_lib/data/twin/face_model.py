"""The twin's face model: identities from demographics, FACS-like expressions, visemes from phonemes
(what face.py renders)."""
import numpy as np


# ----------------------------------------------------------------------------- identity
SKIN = {   # base skin RGB (0..1) per CREMA-D race label, three tones each, jittered per identity
    "Caucasian": [(0.96, 0.80, 0.69), (0.92, 0.74, 0.62), (0.87, 0.69, 0.57)],
    "African American": [(0.55, 0.38, 0.27), (0.45, 0.30, 0.21), (0.36, 0.24, 0.17)],
    "Asian": [(0.95, 0.80, 0.64), (0.89, 0.73, 0.58), (0.82, 0.66, 0.50)],
    "Unknown": [(0.80, 0.62, 0.47), (0.70, 0.52, 0.38), (0.92, 0.76, 0.62)],
}
HAIR_COLS = {"black": (0.09, 0.07, 0.06), "dark_brown": (0.22, 0.14, 0.09), "brown": (0.40, 0.27, 0.16),
             "blonde": (0.80, 0.66, 0.40), "red": (0.58, 0.27, 0.13), "gray": (0.62, 0.62, 0.62)}
IRIS_COLS = [(0.25, 0.15, 0.08), (0.15, 0.10, 0.06), (0.25, 0.40, 0.55), (0.30, 0.45, 0.30)]


def sample_identity(sex: str, age: int, race: str, seed: int) -> dict:
    """Face shape, colours, hair, beard and glasses from demographics and a seed (deterministic)."""
    r = np.random.default_rng(seed)
    male = sex == "Male"
    skin = np.array(SKIN.get(race, SKIN["Unknown"])[r.integers(0, 3)])
    skin = np.clip(skin * r.uniform(0.93, 1.07) + r.normal(0, 0.015, 3), 0, 1)
    if race in ("African American", "Asian"):
        hair_name = r.choice(["black", "dark_brown"], p=[0.75, 0.25])
    else:
        hair_name = r.choice(["black", "dark_brown", "brown", "blonde", "red"], p=[0.15, 0.3, 0.3, 0.18, 0.07])
    grey = np.clip((age - 40) / 30, 0, 1) * r.uniform(0.5, 1.0)
    hair = np.array(HAIR_COLS[hair_name]) * (1 - grey) + np.array(HAIR_COLS["gray"]) * grey
    if male:
        style = r.choice(["short", "short", "buzz", "receding" if age > 35 else "short",
                          "bald" if age > 45 else "buzz", "curly" if race == "African American" else "short"])
        beard = r.choice(["none", "none", "stubble", "full", "goatee", "moustache"])
    else:
        style = r.choice(["long", "long", "bob", "bun", "curly" if race == "African American" else "long"])
        beard = "none"
    iris = IRIS_COLS[r.choice(4, p=[.45, .25, .18, .12]) if race == "Caucasian" else r.choice(2)]
    lip = skin * np.array([0.85, 0.55, 0.55]) + np.array([0.08, 0, 0.02])
    if not male:
        lip = lip + np.array([0.10, -0.04, 0.0])
    return dict(
        sex=sex, age=int(age), race=race, seed=int(seed), skin=skin, hair=hair, style=str(style), beard=str(beard),
        face_w=r.uniform(0.70, 0.80) + (0.03 if male else 0), face_h=r.uniform(0.96, 1.04),
        jaw_w=r.uniform(0.72, 0.88) + (0.06 if male else -0.02), chin_w=r.uniform(0.18, 0.30),
        eye_sp=r.uniform(0.28, 0.34), eye_w=r.uniform(0.13, 0.16), eye_h=r.uniform(0.085, 0.11),
        eye_y=r.uniform(-0.10, 0.0), iris=np.array(iris),
        brow_th=r.uniform(0.045, 0.06) + (0.015 if male else 0), brow_y=r.uniform(0.15, 0.2),
        nose_len=r.uniform(0.30, 0.40), nose_w=r.uniform(0.10, 0.16) + (0.03 if race == "African American" else 0),
        mouth_y=r.uniform(0.58, 0.63), mouth_w=r.uniform(0.22, 0.27), lip_th=r.uniform(0.04, 0.06) + (0 if male else 0.01),
        lip_col=np.clip(lip, 0, 1), ear=r.uniform(0.9, 1.15), glasses=bool(r.random() < 0.15),
        shirt=r.uniform(0.1, 0.8, 3), bg=np.clip(np.array([0.55, 0.58, 0.60]) * r.uniform(0.85, 1.1) + r.normal(0, 0.03, 3), 0, 1),
        age_lines=float(np.clip((age - 28) / 40, 0, 1)),
    )


# ----------------------------------------------------------------------------- expressions (FACS-like)
# brow_raise AU1+2, brow_inner AU1 (+) / AU4 lowering (-), furrow AU4, eye_open AU5 (+) / AU7 (-),
# smile AU12 (+) / AU15 (-), lip_raise AU10, nose_wrinkle AU9, cheek AU6, press AU23/24, stretch AU20, jaw AU26
EXPR_NAMES = ("brow_raise", "brow_inner", "furrow", "eye_open", "smile", "lip_raise",
              "nose_wrinkle", "cheek", "press", "stretch", "jaw")
EXPR = {e: np.array(v, np.float32) for e, v in {
    "NEU": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "HAP": (0.2, 0.0, 0.0, -0.3, 1.0, 0.1, 0.0, 1.0, 0.0, 0.25, 0.1),
    "SAD": (0.0, 1.0, 0.4, -0.4, -0.9, 0.0, 0.0, 0.0, 0.2, 0.0, 0.0),
    "ANG": (-0.6, -0.9, 1.0, 0.35, -0.35, 0.2, 0.3, 0.0, 0.8, 0.0, 0.0),
    "FEA": (1.0, 0.6, 0.5, 0.9, -0.2, 0.0, 0.0, 0.0, 0.0, 0.9, 0.3),
    "DIS": (-0.2, -0.3, 0.7, -0.4, -0.6, 1.0, 1.0, 0.3, 0.0, 0.1, 0.0),
}.items()}


GAIN_STEP = 1 / 64   # expression intensity quantisation (lets the renderer reuse eye/brow patches)


def quantise_gain(g: float) -> float:
    return round(float(g) / GAIN_STEP) * GAIN_STEP


def expr_dict(vec) -> dict:
    return dict(zip(EXPR_NAMES, (float(x) for x in vec)))


# ----------------------------------------------------------------------------- visemes
VISEME_NAMES = ("open", "width", "round", "teeth", "tongue")
VISEMES = {
    "REST": (0.00, 0.50, 0.05, 0.0, 0.0), "PBM": (0.00, 0.48, 0.10, 0.0, 0.0),
    "FV": (0.10, 0.55, 0.00, 1.0, 0.0), "TH": (0.20, 0.55, 0.00, 0.8, 1.0),
    "DNL": (0.25, 0.55, 0.05, 0.7, 0.5), "SZ": (0.10, 0.65, 0.00, 1.0, 0.0),
    "SH": (0.20, 0.40, 0.65, 0.9, 0.0), "KG": (0.35, 0.55, 0.05, 0.4, 0.3),
    "R": (0.20, 0.40, 0.55, 0.4, 0.0), "W": (0.10, 0.25, 1.00, 0.0, 0.0),
    "AA": (0.90, 0.62, 0.05, 0.5, 0.2), "E": (0.50, 0.66, 0.05, 0.6, 0.2),
    "I": (0.28, 0.85, 0.00, 0.8, 0.0), "O": (0.62, 0.36, 0.80, 0.2, 0.1),
    "U": (0.28, 0.26, 0.95, 0.0, 0.0), "ER": (0.35, 0.45, 0.45, 0.4, 0.0),
}
_IPA_TO_VISEME = [  # (prefix, viseme), longest prefixes first; "A+B" = diphthong
    ("tʃ", "SH"), ("dʒ", "SH"), ("aɪ", "AA+I"), ("aʊ", "AA+U"), ("oʊ", "O+U"), ("əʊ", "O+U"), ("eɪ", "E+I"),
    ("ɔɪ", "O+I"), ("ʃ", "SH"), ("ʒ", "SH"), ("p", "PBM"), ("b", "PBM"), ("m", "PBM"), ("f", "FV"), ("v", "FV"),
    ("θ", "TH"), ("ð", "TH"), ("t", "DNL"), ("d", "DNL"), ("n", "DNL"), ("l", "DNL"), ("ɾ", "DNL"), ("ɫ", "DNL"),
    ("s", "SZ"), ("z", "SZ"), ("k", "KG"), ("ɡ", "KG"), ("g", "KG"), ("ŋ", "KG"), ("h", "KG"), ("ɹ", "R"),
    ("r", "R"), ("w", "W"), ("j", "I"), ("ʔ", "REST"), ("ɑ", "AA"), ("a", "AA"), ("æ", "AA"), ("ʌ", "AA"),
    ("ɐ", "E"), ("ɛ", "E"), ("e", "E"), ("ə", "E"), ("ɚ", "ER"), ("ɜ", "ER"), ("ɝ", "ER"), ("ɪ", "I"), ("i", "I"),
    ("ᵻ", "I"), ("ɔ", "O"), ("ɒ", "O"), ("o", "O"), ("ʊ", "U"), ("u", "U"),
]
BILABIALS = ("p", "b", "m")


def strip_ipa(ph: str) -> str:
    return "".join(ch for ch in ph if ch not in "ˈˌː̩")


def ipa_to_viseme(ph: str) -> str:
    p = strip_ipa(ph)
    if not p:
        return "REST"
    for prefix, vis in _IPA_TO_VISEME:
        if p.startswith(prefix):
            return vis
    return "KG"


def viseme_track(phonemes, n_samples: int, sr: int, fps: float, n_frames: int, energy=None,
                 gain: float = 1.0, lead_s: float = 0.03) -> np.ndarray:
    """(n_frames, 5) mouth params from [(sample, ipa)] phoneme onsets: piecewise targets, 25 ms
    Gaussian coarticulation, lips shut in the middle of every bilabial, jaw scaled by `gain` and by
    loudness `energy` ((times_s, values) in [0, 1]). The mouth leads the sound by `lead_s`."""
    from scipy.ndimage import gaussian_filter1d
    dt = 0.005
    n_t = int(np.ceil(n_frames / fps / dt)) + 1
    target = np.tile(np.array(VISEMES["REST"], np.float64), (n_t, 1))
    closure = np.zeros(n_t, bool)
    onsets = [(s / sr - lead_s, p) for s, p in phonemes] + [(n_samples / sr - lead_s, "")]
    for (t0, p), (t1, _) in zip(onsets[:-1], onsets[1:]):
        parts = ipa_to_viseme(p).split("+")
        bounds = [t0, t0 + 0.6 * (t1 - t0), t1] if len(parts) == 2 else [t0, t1]
        for k, vis in enumerate(parts):
            a, b = max(int(bounds[k] / dt), 0), min(int(bounds[k + 1] / dt), n_t)
            if b > a:
                target[a:b] = VISEMES[vis]
                if vis == "PBM":
                    closure[a + (b - a) // 4: b - (b - a) // 4 + 1] = True
    smooth = gaussian_filter1d(target, 0.025 / dt, axis=0, mode="nearest")
    smooth[:, 0] *= gain
    if energy is not None:
        smooth[:, 0] *= 0.7 + 0.45 * np.interp(np.arange(n_t) * dt, energy[0], energy[1])
    smooth[closure, 0] = np.minimum(smooth[closure, 0], 0.01)   # bilabials close the lips
    idx = np.clip(((np.arange(n_frames) + 0.5) / fps / dt).astype(int), 0, n_t - 1)
    return smooth[idx].astype(np.float32)
