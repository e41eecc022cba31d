"""What scoring a generated clip needs: the prepared data, the sync expert, the teachers notebook 02
chose, and the seen actors' identity centroids (the gallery identity top-1 is measured against)."""
from dataclasses import dataclass

from .. import metrics as M


@dataclass
class EvalContext:
    data: object                 # PreparedData
    sync: object                 # sync_expert.SyncExpert (None when only the teachers are needed)
    identity_teacher: object
    emotion_teacher: object
    gallery: M.ActorGallery      # seen actors' identity centroids (training split)


def build_context(profile, data, device: str = "cpu", seed: int = 0, force_retrain: bool = False,
                  progress: bool = True, with_sync: bool = True, id_teacher=None, emo_teacher=None) -> EvalContext:
    """Sync expert (trained here, or from its checkpoint), the teachers, the gallery. Teachers not
    passed in are the families notebook 02 chose (teachers.loading)."""
    from ..teachers.loading import load_emotion_teacher, load_identity_teacher
    from .sync_expert import train_sync_expert
    sync = train_sync_expert(profile, data, device=device, seed=seed, force_retrain=force_retrain,
                             progress=progress) if with_sync else None
    id_t = id_teacher if id_teacher is not None else load_identity_teacher(profile, device=device)
    emo_t = emo_teacher if emo_teacher is not None else load_emotion_teacher(profile, device=device)
    return EvalContext(data, sync, id_t, emo_t, M.actor_gallery(id_t, data, "train", progress=progress))
