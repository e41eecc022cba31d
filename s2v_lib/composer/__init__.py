"""Stage two of Speech2Video (paper section 2.2; notebook 04): the adversarial composer and the baselines.

    configs.py             one config dataclass per model, the step budgets per profile
    speech2video_task.py   the composer's step: F(c_t, nu, mu) against D_ID, D_fr, D_sync (Eq. 4-10)
    sdfa_task.py           SDFA's step (and S2F+SDFA's)
    s2f_voice.py           the Speech2Face voice encoder of S2F+SDFA
    clips.py               training clips and the sample-grid batch
    training.py            train_model / load_model from the upstream artifacts
    mismatch.py            SDFA(mismatch)'s still-image pairing
    report.py              grids, loss curves, quick scores, config table (notebook 04)
    ddp_cli.py             python -m s2v_lib.composer.ddp_cli (torchrun)
"""
from .configs import FEATURE_SOURCES, MODELS, STEPS, VOICE_STEPS, WARMUP
from .mismatch import mismatch_pairs
from .report import config_table, grid_figure, loss_curves_figure, quick_scores, samples_figure
from .training import TrainedModel, load_model, train_model
