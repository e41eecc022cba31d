"""Per-actor eSpeak voices (from sex, age and a seed) and emotion/level prosody.

Race is deliberately not mapped to voice; each actor's seed gives the variation.
"""
import numpy as np

# Prosody per emotion: rate (x the actor's words/min), pitch and range (0..100, eSpeak default 50),
# volume (0..200, default 100). Anger/happiness/fear: faster, higher, wider; sadness: slow, low, flat.
EMO_PROSODY = {
    "NEU": dict(rate=1.00, pitch=50, range=45, volume=100),
    "HAP": dict(rate=1.08, pitch=64, range=82, volume=115),
    "SAD": dict(rate=0.76, pitch=38, range=15, volume=75),
    "ANG": dict(rate=1.12, pitch=58, range=78, volume=150),
    "FEA": dict(rate=1.18, pitch=70, range=60, volume=95),
    "DIS": dict(rate=0.85, pitch=44, range=35, volume=105),
}
# Voice-quality deltas added to the actor's voice file (breath, flutter = jitter, tilt % per kHz, roughness).
EMO_QUALITY = {
    "NEU": dict(breath=0, flutter=0, tilt=0, rough=0),
    "HAP": dict(breath=0, flutter=2, tilt=15, rough=0),
    "SAD": dict(breath=4, flutter=4, tilt=-25, rough=0),
    "ANG": dict(breath=0, flutter=0, tilt=30, rough=4),
    "FEA": dict(breath=3, flutter=25, tilt=5, rough=0),
    "DIS": dict(breath=1, flutter=0, tilt=-10, rough=3),
}
# Intensity level -> how far from neutral the display goes (XX: "unspecified", between MD and HI).
LEVEL_GAIN = {"LO": 0.6, "MD": 0.8, "HI": 1.0, "XX": 0.9}
BASE_WPM = 165

_EN_US = """language en-us 2
language en 3
phonemes en-us
dictrules 3 6
stressLength 140 120 190 170 0 0 255 300
stressAmp  17 16  19 19  19 19  21 19
replace 03 I  i
replace 03 I2 i"""


def sample_voice(sex: str, age: int, seed: int) -> dict:
    """An actor's voice: F0 and range (Hz), formant scales, breathiness, jitter, speed."""
    r = np.random.default_rng(seed)
    if sex == "Male":
        f0 = np.clip(r.normal(112, 14), 82, 160) + 0.25 * max(0, age - 50)
        range_hz = np.clip(r.normal(40, 8), 22, 65)
        fscale = np.clip(r.normal(0.97, 0.03), 0.90, 1.05)
    else:
        f0 = np.clip(r.normal(200, 20), 150, 260) - 0.6 * max(0, age - 40)
        range_hz = np.clip(r.normal(90, 15), 50, 130)
        fscale = np.clip(r.normal(1.12, 0.035), 1.03, 1.22)
    return dict(
        sex=sex, age=int(age),
        base=int(round(f0 - 0.5 * range_hz)), top=int(round(f0 + 0.5 * range_hz)),
        fscale=[float(fscale * r.uniform(0.97, 1.03)) for _ in range(6)],
        fheight=[int(r.uniform(80, 120)) for _ in range(6)],
        fwidth=[int(r.uniform(80, 140)) for _ in range(6)],
        breath=int(r.integers(0, 3) + (1 if sex == "Female" else 0)),
        flutter=int(r.uniform(3, 12) + 0.3 * max(0, age - 45)),
        rough=int(r.integers(0, 3) + (2 if age > 60 else 0)),
        tilt=float(r.normal(0, 12)),
        speed=float(np.clip(r.normal(1.0, 0.07), 0.85, 1.18)),
        voicing=int(r.uniform(85, 115)),
    )


def voice_file(v: dict, emotion: str, level: str) -> str:
    """Text of an eSpeak voice file for this actor showing `emotion` at `level`."""
    g = LEVEL_GAIN[level]
    q = {k: g * x for k, x in EMO_QUALITY[emotion].items()}
    breath = int(round(min(8, v["breath"] + q["breath"])))
    tilt = v["tilt"] + q["tilt"]
    amp = lambda hz: int(np.clip(100 + tilt * (hz - 1000) / 1000, 15, 250))
    lines = ["name actor", _EN_US,
             f"gender {'male' if v['sex'] == 'Male' else 'female'} {v['age']}",
             f"pitch {v['base']} {v['top']}",
             "formant 0 100 100 100",
             *[f"formant {i + 1} {int(round(100 * v['fscale'][i]))} {v['fheight'][i]} {v['fwidth'][i]}" for i in range(6)],
             "breath 0 " + " ".join(str(max(0, breath - i // 3)) for i in range(7)),
             f"flutter {int(round(v['flutter'] + q['flutter']))}",
             f"roughness {int(round(min(7, v['rough'] + q['rough'])))}",
             f"tone 500 {amp(500)} 1500 {amp(1500)} 2500 {amp(2500)} 4000 {amp(4000)}",
             f"voicing {v['voicing']}"]
    return "\n".join(lines) + "\n"


def prosody(v: dict, emotion: str, level: str) -> dict:
    """eSpeak SetParameter values: neutral + level gain x (emotion - neutral)."""
    g, neu, emo = LEVEL_GAIN[level], EMO_PROSODY["NEU"], EMO_PROSODY[emotion]
    p = {k: neu[k] + g * (emo[k] - neu[k]) for k in neu}
    p["rate"] = BASE_WPM * v["speed"] * p["rate"]
    return {k: int(round(x)) for k, x in p.items()}
