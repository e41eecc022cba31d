"""The teachers: identity (paper: VGGFace VGGNet) and emotion (paper: SENet on FERplus); notebook 02.

    frozen.py      the four teachers behind one interface (trained in-project, dlib, fer)
    training.py    training the in-project ones on the separate generated face set
    loading.py     the family notebook 02 chose, for a profile
    evaluation.py  actor retrieval and clip emotion on the prepared dataset; choosing the families
    report.py      notebook 02's tables and figures

    teacher = load_identity_teacher("cpu")           # the family notebook 02 chose
    nu_star = teacher.embed(frames)                  # (N, dim), L2-normalised
    maps = teacher.feature_maps(frames)              # sizes S/8, S/4, S/2
    emo = load_emotion_teacher("cpu")
    mu_star = emo.features(frames); logits = emo.head(mu_star)
"""
from .evaluation import choose_families, evaluate_emotion, evaluate_identity, write_teachers_json
from .frozen import (DlibIdentityTeacher, FerEmotionTeacher, FrozenTeacher, TrainedEmotionTeacher,
                     TrainedIdentityTeacher)
from .loading import EMOTION_FAMILIES, IDENTITY_FAMILIES, load_emotion_teacher, load_identity_teacher, teachers_json
from .report import (emotion_examples_figure, emotion_teachers_confusion_figure, face_set_figure, results_table,
                     training_figure, training_summary)
from .training import TeacherTrainConfig, nn_accuracy, teacher_configs, train_teachers
