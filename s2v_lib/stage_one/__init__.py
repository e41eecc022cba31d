"""Stage one of Speech2Video (paper section 2.1; notebook 03): pre-train CPC on speech, distil identity
and emotion from the teachers into the students, evaluate what the voice recollects.

    config.py             DistillConfig (the cache key, with the data and teacher fingerprints)
    cpc_training.py       CPC on training-split audio (InfoNCE)
    targets.py            per-clip c_t, w, and the teachers' targets nu*, mu* (Eq. 1)
    students_training.py  S_id, S_emo with Eq. (2)-(3)
    features.py           the cached stage: speech_stage(profile, data, id_teacher, emo_teacher)
    evaluation.py         recollection from the voice, with bootstrap intervals; distillation.json
    report.py             notebook 03's tables, figures and narrative

Training sees the train split only; val gives the curves; test (seen actors) and unseen actors are
evaluated. Everything is seeded; checkpoints are keyed by config hash and resume after a kill.
"""
from .config import DistillConfig, data_key
from .cpc_training import train_cpc
from .evaluation import evaluate_stage_one
from .features import load_speech_encoder, speech_stage
from .report import (cpc_figure, embedding_figure, metrics_table, narrative, students_figure,
                     voice_emotion_confusion_figure)
from .students_training import apply_students, train_students
from .targets import clip_inputs, emotion_target_eq1, teacher_fingerprint
