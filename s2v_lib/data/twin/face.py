"""Procedural 2-D frontal talking face: identities, FACS-like expressions, visemes, a fast renderer.

Face space: origin at the face centre, x to the image right, y down, face half-height ~1.
Speed: `FaceRenderer` draws everything that does not move once per clip (background, body, head with
skin shading, hair, ears, nose, beard, glasses) at 4x supersampling; per frame it redraws only the
eye/brow patch and the mouth patch (PIL polygons at 4x, box-filtered to 2x), then applies the head
pose as one affine warp of the 2x canvas (nearest) followed by a 2x2 box filter to the output size.
A patch starts from the static layer below the moving parts and gets the layer above them (hair
front, moustache, glasses) pasted last, so it is pixel-identical to a full render (no seams).

Identities: the 91 actors of the twin use seed = ActorID + 1000 * dataset_seed (1001..1091 for
seed 0). Faces outside the twin (e.g. a teacher's separate face set) should use seeds >= 1_000_000.
"""
import numpy as np
from PIL import Image, ImageDraw

from .face_geometry import _Painter, _LIP_ARC, _LIP_LOWER, _LIP_U, _LIP_UPPER, _rgb, bez, bez3, ell_pts, stroke
from .face_model import EXPR, HAIR_COLS, VISEMES, expr_dict, quantise_gain
from .face_model import (BILABIALS, EXPR_NAMES, VISEME_NAMES, sample_identity, strip_ipa,  # noqa: F401
                         viseme_track)  # callers read these as face.NAME

OTHER_IDENTITY_SEED0 = 1_000_000
SS = 4                      # supersampling of the drawn layers (the composite canvas is 2x)
FACE_SCALE = 0.40           # face half-height in units of the image size
FACE_CENTRE = (0.5, 0.47)   # where the face origin sits in the image (fractions)
NECK_PIVOT = (0.0, 1.2)     # head roll pivots about the neck (face coords)


# ----------------------------------------------------------------------------- renderer
class FaceRenderer:
    """Renders one identity with one emotion: static layers once, `frame(...)` per video frame.

    `intensity` is the clip's nominal expression intensity (level gain); it sets the static cues
    (cheek blush, wrinkles); `frame(expr_gain=...)` moves brows, eyes and mouth per frame.
    """

    def __init__(self, identity: dict, emotion: str, intensity: float = 1.0, size: int = 64):
        self.I, self.emotion, self.size = identity, emotion, size
        self.pad = max(4, size // 8)                           # canvas margin (output px) for the pose warp
        self.canvas = size + 2 * self.pad
        self.scale_out = FACE_SCALE * size                     # face units -> output px
        self.centre_out = np.array(FACE_CENTRE) * size         # continuous output coords
        hi_scale = SS * self.scale_out
        hi_off = SS * (self.centre_out + self.pad) - 0.5        # PIL samples pixel centres at integers
        self._hi = (hi_scale, hi_off)
        self.bg = _rgb(identity["bg"])
        E = expr_dict(EXPR[emotion] * intensity)
        # under: everything below the moving parts; over: what lies on top of them (hair front,
        # moustache, glasses). A patch starts from `under` and gets `over` pasted last, exactly as a
        # full render would: starting from the composite would blend semi-transparent overlay twice.
        under, over = self._draw_static(E)
        self.under, self.over = under, (over.convert("RGB"), over.getchannel("A"))
        hi = under.copy()
        hi.paste(*self.over)
        self.mid = hi.reduce(2)                                # 2x canvas the frames are composed on
        self.patches, self._eye_cache = [], {}
        for kind, box in (("eyes", self._box(*self._eye_extent())), ("mouth", self._box(*self._mouth_extent()))):
            ov = over.crop(box)
            has_over = ov.getextrema()[3][1] > 0
            self.patches.append((kind, box, under.crop(box), (ov.convert("RGB"), ov.getchannel("A")) if has_over else None))

    # -- geometry ---------------------------------------------------------------------------------
    def _box(self, x0, y0, x1, y1):
        """Face-space rectangle -> hi-res pixel box aligned to even pixels, inside the canvas."""
        s, off = self._hi
        n = SS * self.canvas
        bx0, by0 = (np.floor((np.array([x0, y0]) * s + off) / 2) * 2).astype(int)
        bx1, by1 = (np.ceil((np.array([x1, y1]) * s + off) / 2) * 2).astype(int)
        return (int(max(bx0, 0)), int(max(by0, 0)), int(min(bx1, n)), int(min(by1, n)))

    def _eye_extent(self):
        I = self.I
        x = I["eye_sp"] + I["eye_w"] * 1.5 + 0.08
        return -x, I["eye_y"] - I["brow_y"] - 0.34, x, I["eye_y"] + 0.2

    def _mouth_extent(self):
        I = self.I
        hw = I["mouth_w"] * 1.3 * 1.3 * 1.2 + 0.06
        lt = I["lip_th"] * 1.6
        return -hw, I["mouth_y"] - 0.22 - lt, hw, I["mouth_y"] + 0.10 + 0.45 + 1.6 * lt + 0.06

    def pose_matrix(self, pose):
        """2x3 affine mapping canonical output coords (continuous) to posed output coords."""
        tx, ty, rot, zoom = (float(v) for v in pose)
        c, s = np.cos(rot), np.sin(rot)
        R = np.array([[c, -s], [s, c]]) * zoom
        pivot = self.centre_out + self.scale_out * np.array(NECK_PIVOT)
        t = pivot - R @ pivot + np.array([tx, ty]) * self.size
        return np.concatenate([R, t[:, None]], 1)

    def to_pixels(self, pts, pose=(0, 0, 0, 1)):
        """Face-space points -> output pixel-index coords (pixel centre = integer) under `pose`."""
        A = self.pose_matrix(pose)
        p = np.asarray(pts, np.float64) * self.scale_out + self.centre_out
        return p @ A[:, :2].T + A[:, 2] - 0.5

    def landmarks5(self, pose=(0, 0, 0, 1)) -> np.ndarray:
        """(5, 2) dlib 5-point order: image-right eye outer, inner; image-left eye outer, inner; nose base."""
        I = self.I
        ex, ew, ey = I["eye_sp"], I["eye_w"], I["eye_y"]
        pts = [(ex + ew, ey), (ex - ew, ey), (-ex - ew, ey), (-ex + ew, ey), (0.0, I["nose_len"] + 0.03)]
        return self.to_pixels(pts, pose).astype(np.float32)

    def face_box(self, pose=(0, 0, 0, 1)) -> np.ndarray:
        """(4,) x0, y0, x1, y1: bounding box of the face oval (forehead to chin, cheek to cheek)."""
        I = self.I
        fw, fh = I["face_w"], I["face_h"]
        corners = [(-fw, -fh), (fw, -fh), (fw, fh + 0.01), (-fw, fh + 0.01)]
        p = self.to_pixels(corners, pose)
        return np.array([*p.min(0), *p.max(0)], np.float32)

    # -- static layers ----------------------------------------------------------------------------
    def _draw_static(self, E):
        I = self.I
        n = SS * self.canvas
        s, off = self._hi
        img = Image.new("RGB", (n, n), self.bg)
        P = _Painter(img, s, off)
        skin, hair = I["skin"], I["hair"]
        fw, fh = I["face_w"], I["face_h"]
        bottom = (n - off[1]) / s + 0.1                      # face-space y of the canvas bottom
        # shirt + neck
        P.poly([(-1.6, bottom), (-1.5, 1.9), (-1.3, 1.25), (-0.45, 1.05), (0.45, 1.05), (1.3, 1.25),
                (1.5, 1.9), (1.6, bottom)], I["shirt"])
        P.poly([(-0.36, 0.45), (0.36, 0.45), (0.38, 1.12), (0, 1.2), (-0.38, 1.12)], skin * 0.8)
        # hair behind the head
        st = I["style"]
        if st == "long":
            P.poly(np.concatenate([ell_pts(0, -0.15, fw * 1.2, fh, n=20, a0=np.pi, a1=2 * np.pi),
                                   [(fw * 1.25, 0.6), (fw * 1.15, 1.2), (-fw * 1.15, 1.2), (-fw * 1.25, 0.6)]]), hair * 0.8)
        elif st == "bob":
            P.poly(np.concatenate([ell_pts(0, -0.15, fw * 1.22, fh, n=20, a0=np.pi, a1=2 * np.pi),
                                   [(fw * 1.25, 0.45), (-fw * 1.25, 0.45)]]), hair * 0.8)
        elif st == "curly":
            a = np.linspace(np.pi * 0.85, np.pi * 2.15, 48)
            rr = 1.0 + 0.05 * np.sin(a * 9)
            P.poly(np.stack([fw * 1.35 * rr * np.cos(a), -0.25 + fh * 0.95 * rr * np.sin(a)], 1), hair * 0.9)
        elif st == "bun":
            P.poly(ell_pts(0, -1.22, 0.28, 0.22, n=20), hair * 0.85)
        # ears
        er = I["ear"]
        for sx in (-1, 1):
            P.poly(ell_pts(sx * (fw + 0.02), 0.02, 0.09 * er, 0.19 * er, rot=sx * 0.15, n=16), skin * 0.88)
            P.poly(ell_pts(sx * (fw + 0.035), 0.03, 0.045 * er, 0.11 * er, rot=sx * 0.15, n=12), skin * 0.7)
        # face outline: cranium arc + jaw curves
        chin_y = fh * 0.98
        jw = fw * I["jaw_w"]
        right = bez3((fw, 0.0), (fw, 0.35), (jw, 0.62), (I["chin_w"] * fw, chin_y - 0.04), n=14)
        outline = np.concatenate([ell_pts(0, 0, fw, fh, n=32, a0=np.pi, a1=2 * np.pi), right,
                                  bez((I["chin_w"] * fw, chin_y - 0.04), (0, chin_y + 0.03), (-I["chin_w"] * fw, chin_y - 0.04), 8),
                                  right[::-1] * (-1, 1)])
        P.poly(outline, skin)
        face_mask = Image.new("L", (n, n), 0)
        ImageDraw.Draw(face_mask).polygon(P.px(outline).ravel().tolist(), fill=255)
        self._shade(img, face_mask, E, chin_y)
        # age lines, emotion wrinkles
        al, dark = I["age_lines"], skin * 0.7
        if al > 0:
            for k in range(1 + int(al * 3)):
                y = -0.52 - 0.09 * k - 0.08 * E["brow_raise"]
                P.poly(stroke(bez((-0.3, y), (0, y - 0.04 - 0.04 * E["brow_raise"]), (0.3, y), 10), 0.014), dark, 0.25 + 0.35 * al)
            for sx in (-1, 1):   # nasolabial folds + crow's feet
                mx = sx * (I["mouth_w"] * (1 + 0.3 * E["smile"]) + 0.06)
                P.poly(stroke(bez((sx * (I["nose_w"] + 0.06), I["nose_len"] - 0.02), (sx * 0.33, 0.45), (mx, I["mouth_y"] + 0.08), 10), 0.02, 0.006), dark, 0.3 + 0.4 * al)
                ex = sx * (I["eye_sp"] + I["eye_w"] + 0.04)
                for dy in (-0.03, 0.02):
                    P.poly(stroke([(ex, I["eye_y"] + dy), (ex + sx * 0.07, I["eye_y"] + dy * 2.2)], 0.01), dark, 0.4 * al)
        elif E["smile"] > 0.3:   # smile folds on young faces too
            for sx in (-1, 1):
                mx = sx * (I["mouth_w"] * 1.3 + 0.06)
                P.poly(stroke(bez((sx * (I["nose_w"] + 0.06), I["nose_len"]), (sx * 0.33, 0.45), (mx, I["mouth_y"] + 0.06), 10), 0.018, 0.006), dark, 0.4 * E["smile"])
        if E["nose_wrinkle"] > 0.2:
            for dy in (0.0, 0.04):
                P.poly(stroke(bez((-0.08, 0.05 + dy), (0, 0.02 + dy), (0.08, 0.05 + dy), 6), 0.016), dark, min(1, 0.7 * E["nose_wrinkle"]))
        if E["furrow"] > 0.3:
            for sx in (-1, 1):
                P.poly(stroke([(sx * 0.045, I["eye_y"] - 0.24), (sx * 0.03, I["eye_y"] - 0.1)], 0.016), dark, min(1, 0.7 * E["furrow"]))
        # beard under the mouth region
        if I["beard"] in ("stubble", "full"):
            bp = np.concatenate([bez3((-fw, 0.05), (-fw, 0.62), (-jw * 0.9, 0.75), (0, chin_y + 0.05), n=12),
                                 bez3((0, chin_y + 0.05), (jw * 0.9, 0.75), (fw, 0.62), (fw, 0.05), n=12),
                                 bez3((fw * 0.9, 0.05), (fw * 0.75, 0.45), (0.35, 0.45), (0.0, I["nose_len"] + 0.08), n=10),
                                 bez3((0.0, I["nose_len"] + 0.08), (-0.35, 0.45), (-fw * 0.75, 0.45), (-fw * 0.9, 0.05), n=10)])
            P.poly(bp, hair * 0.9, alpha=0.28 if I["beard"] == "stubble" else 0.95, clip=face_mask)
        elif I["beard"] == "goatee":
            my = I["mouth_y"]
            P.poly(np.concatenate([bez((-0.16, my + 0.2), (0, my + 0.16), (0.16, my + 0.2), 8),
                                   bez((0.17, chin_y - 0.1), (0, chin_y + 0.1), (-0.17, chin_y - 0.1), 8)]), hair * 0.9, 0.9)
        # nose
        nl, nw = I["nose_len"], I["nose_w"]
        P.poly(stroke(bez((0.05, I["eye_y"] + 0.05), (0.07, nl * 0.6), (0.03, nl - 0.02), 8), 0.018), skin * 0.8, 0.5)
        P.poly(ell_pts(0, nl - 0.02, nw * 0.6, 0.07, n=16), np.minimum(skin * 1.04, 1))
        for sx in (-1, 1):
            P.poly(stroke(bez((sx * nw * 0.5, nl - 0.07), (sx * (nw + 0.03), nl), (sx * nw * 0.4, nl + 0.045), 8), 0.02), skin * 0.72)
            P.poly(ell_pts(sx * nw * 0.4, nl + 0.03 - 0.01 * E["nose_wrinkle"], 0.038, 0.02, n=10), skin * 0.35)
        # overlay: what lies above the moving parts (hair front, moustache, glasses)
        over = Image.new("RGBA", (n, n), (0, 0, 0, 0))
        O = _Painter(over, s, off)
        if st != "bald":
            hl = {"short": -0.55, "buzz": -0.6, "receding": -0.72, "long": -0.5, "bob": -0.47, "bun": -0.58, "curly": -0.55}[st]
            thick = {"buzz": 1.02, "curly": 1.15}.get(st, 1.07)
            cap = ell_pts(0, 0, fw * thick, fh * thick, n=32, a0=np.pi * 1.02, a1=np.pi * 1.98)
            if st == "receding":
                hairline = np.concatenate([bez((fw * 0.98, -0.25), (fw * 0.6, -0.6), (fw * 0.25, -0.72), 8),
                                           bez((fw * 0.25, -0.72), (0, -0.85), (-fw * 0.25, -0.72), 6),
                                           bez((-fw * 0.25, -0.72), (-fw * 0.6, -0.6), (-fw * 0.98, -0.25), 8)])
            else:
                side = hl + (0.1 if st in ("long", "bob") else 0.05)
                hairline = np.concatenate([bez((fw * 0.98, -0.2), (fw * 0.6, hl + 0.05), (0, hl), 10),
                                           bez((0, hl), (-fw * 0.6, side), (-fw * 0.98, -0.2), 10)])
            O.poly(np.concatenate([cap, hairline]), hair, 0.75 if st == "buzz" else 1.0)
        elif I["age"] > 40:
            for sx in (-1, 1):
                O.poly(ell_pts(sx * fw * 0.95, -0.2, 0.08, 0.25, n=12), hair, 0.7)
        if I["beard"] in ("moustache", "full"):
            my, lt, hw = I["mouth_y"], I["lip_th"], I["mouth_w"] * 0.95
            O.poly(np.concatenate([bez((-hw - 0.05, my + 0.02), (0, my - lt - 0.17), (hw + 0.05, my + 0.02), 10),
                                   bez((hw + 0.02, my - lt * 0.4), (0, my - lt - 0.07), (-hw - 0.02, my - lt * 0.4), 10)]), hair * 0.9)
        if I["glasses"]:
            frame_col = (0.1, 0.1, 0.12)
            for sx in (-1, 1):
                ring = ell_pts(sx * I["eye_sp"], I["eye_y"], I["eye_w"] * 1.45, I["eye_h"] * 2.3, n=24)
                O.poly(stroke(np.concatenate([ring, ring[:1]]), 0.026), frame_col)
            O.poly(stroke(bez((-I["eye_sp"] + I["eye_w"] * 1.4, I["eye_y"] - 0.03), (0, I["eye_y"] - 0.07),
                              (I["eye_sp"] - I["eye_w"] * 1.4, I["eye_y"] - 0.03), 6), 0.024), frame_col)
        return img, over

    def _shade(self, img, face_mask, E, chin_y):
        """Soft light from the upper left, eye sockets, cheek blush, shadow under the jaw (numpy, once)."""
        I = self.I
        s, off = self._hi
        fw, fh = I["face_w"], I["face_h"]
        x0, y0, x1, y1 = face_mask.getbbox()
        y1 = min(y1 + int(0.4 * s), img.height)
        a = np.asarray(img.crop((x0, y0, x1, y1)), np.float32) / 255
        fm = np.asarray(face_mask.crop((x0, y0, x1, y1))) > 0
        X = ((np.arange(x0, x1, dtype=np.float32) - off[0]) / s)[None, :]
        Y = ((np.arange(y0, y1, dtype=np.float32) - off[1]) / s)[:, None]
        r2 = (X / fw) ** 2 + (np.where(Y < 0, Y / fh, Y / chin_y)) ** 2
        shade = 1.0 + 0.05 * (-X / fw - Y / fh) - 0.28 * np.clip(r2, 0, 1.2) ** 3
        socket = 0.08 * np.exp(-(((np.abs(X) - I["eye_sp"]) / 0.18) ** 2 + ((Y - I["eye_y"] + 0.02) / 0.1) ** 2))
        blush = (0.07 + 0.16 * max(E["cheek"], 0)) * np.exp(-(((np.abs(X) - 0.42 * fw) / 0.16) ** 2 + ((Y - 0.35) / 0.12) ** 2))
        f = np.where(fm, shade - socket, 1.0)[..., None] * np.ones(3, np.float32)
        f[..., 1:] *= np.where(fm, 1 - blush, 1.0)[..., None]
        neck = (~fm) & (np.abs(X) < 0.4) & (Y > 0.4) & (Y < chin_y + 0.35)
        f[neck] *= (0.72 + 0.28 * np.clip((Y * np.ones_like(X))[neck] - chin_y, 0, 0.35) / 0.35)[:, None]
        out = np.clip(a * f * 255 + 0.5, 0, 255).astype(np.uint8)
        img.paste(Image.fromarray(out), (x0, y0))

    # -- moving parts -----------------------------------------------------------------------------
    def _draw_eyes(self, patch, origin, E, blink):
        I = self.I
        P = _Painter(patch, self._hi[0], self._hi[1], origin)
        eo = float(np.clip(1.0 + 0.5 * E["eye_open"], 0.3, 1.6) * (1.0 - blink))
        skin = I["skin"]
        if eo > 0.08:
            eyes = patch.copy()
            mask = Image.new("L", patch.size, 0)
            Pe, Pm = _Painter(eyes, *self._hi, origin), _Painter(mask, *self._hi, origin)
        for sx in (-1, 1):
            ex, ey, ew, eh = sx * I["eye_sp"], I["eye_y"], I["eye_w"], I["eye_h"]
            up = bez((ex - ew, ey), (ex, ey - 2 * eh * eo - 0.01), (ex + ew, ey), 12)
            lo = bez((ex + ew, ey), (ex, ey + 1.4 * eh * max(eo, 0.05) * (1 - 0.3 * max(E["cheek"], 0))), (ex - ew, ey), 12)
            if eo > 0.08:
                almond = np.concatenate([up, lo])
                Pm.poly(almond, (1, 1, 1))
                Pe.poly(almond, (0.93, 0.92, 0.90))
                ir = eh * 1.1
                Pe.poly(ell_pts(ex, ey + 0.005, ir, ir, n=16), I["iris"])
                Pe.poly(ell_pts(ex, ey + 0.005, ir * 0.45, ir * 0.45, n=10), (0.03, 0.03, 0.03))
                Pe.poly(ell_pts(ex - 0.02, ey - 0.02, ir * 0.2, ir * 0.2, n=8), (1, 1, 1))
        if eo > 0.08:
            patch.paste(eyes, (0, 0), mask)
        lash = (0.12, 0.09, 0.08)
        bcol = I["hair"] * 0.8 if I["style"] != "bald" else np.array(HAIR_COLS["dark_brown"])
        for sx in (-1, 1):
            ex, ey, ew, eh = sx * I["eye_sp"], I["eye_y"], I["eye_w"], I["eye_h"]
            up = bez((ex - ew, ey), (ex, ey - 2 * eh * eo - 0.01), (ex + ew, ey), 12)
            P.poly(stroke(up, 0.024), lash)
            crease = bez((ex - ew * 0.9, ey - 0.02), (ex, ey - 2 * eh * min(eo, 1.2) - 0.07), (ex + ew * 0.9, ey - 0.02), 10)
            P.poly(stroke(crease, 0.012), skin * 0.83)
            # brows: raise lifts all, inner (+) lifts the inner end (sad/fear), furrow pulls it down and in
            by = ey - I["brow_y"] - 0.12 * E["brow_raise"]
            inner = (sx * (0.09 - 0.025 * E["furrow"]), by - 0.08 * E["brow_inner"] + 0.04 * E["furrow"])
            outer = (ex + sx * ew * 1.2, by + 0.03 + 0.04 * E["brow_inner"])
            mid = (ex, by - 0.06 - 0.03 * E["brow_raise"])
            P.poly(stroke(bez(inner, mid, outer, 12), I["brow_th"] * 1.1, I["brow_th"] * 0.5), bcol)

    def _draw_mouth(self, patch, origin, E, mouth):
        I = self.I
        P = _Painter(patch, *self._hi, origin)
        m_open, m_w, m_round, m_teeth, m_tongue = (float(v) for v in mouth)
        jaw = 0.10 * m_open + 0.06 * E["jaw"]
        my = I["mouth_y"] + 0.5 * jaw
        hw = (I["mouth_w"] * (0.55 + 0.75 * m_w) * (1 + 0.25 * E["stretch"] + 0.15 * max(E["smile"], 0))
              * (1 - 0.15 * E["press"]))
        corner = -0.11 * E["smile"]
        oh = 0.34 * m_open + 0.02 * E["jaw"] * (m_open > 0.05)           # inner opening height
        lt = I["lip_th"] * (1 + 0.6 * m_round) * (1 - 0.5 * E["press"])
        ul = 0.03 * E["lip_raise"]
        # the lips are offsets of the curves bounding the opening (or of the closed mouth line), so the
        # opening and teeth always sit inside them (see _LIP_U)
        x, y_corner = hw * _LIP_U, my + corner
        is_open = oh > 0.012
        top_ctrl = my - oh * 0.35 - ul * 0.5 + 0.02 * E["smile"] if is_open else my + 0.01 * E["smile"]
        top = y_corner + _LIP_ARC * (top_ctrl - y_corner)
        bot = y_corner + _LIP_ARC * (my + oh * 0.65 + 0.02 * E["smile"] - y_corner) if is_open else top
        lo_th = 0.8 * lt + 0.005
        lips = np.stack([np.concatenate([x, x[::-1]]),
                         np.concatenate([top - (0.85 * lt + ul) * _LIP_UPPER, (bot + lo_th * _LIP_LOWER)[::-1]])], 1)
        P.poly(lips, I["lip_col"])
        if is_open:
            inner = np.stack([np.concatenate([x, x[-2:0:-1]]), np.concatenate([top, bot[-2:0:-1]])], 1)
            P.poly(inner, (0.22, 0.06, 0.07))
            if m_teeth > 0.1 or m_tongue > 0.1 or m_open > 0.5:
                layer = patch.copy()
                mask = Image.new("L", patch.size, 0)
                _Painter(mask, *self._hi, origin).poly(inner, (1, 1, 1))
                L = _Painter(layer, *self._hi, origin)
                if m_teeth > 0.1:
                    ty = my - oh * 0.35 - ul * 0.5
                    L.poly([(-hw * 0.8, ty - 0.05), (hw * 0.8, ty - 0.05), (hw * 0.7, ty + 0.035 + 0.02 * m_teeth),
                            (-hw * 0.7, ty + 0.035 + 0.02 * m_teeth)], (0.92, 0.90, 0.84))
                if m_tongue > 0.1 or m_open > 0.5:
                    L.poly(ell_pts(0, my + oh * 0.6, hw * 0.55, 0.05 + 0.05 * m_tongue, n=14), (0.75, 0.35, 0.38))
                patch.paste(layer, (0, 0), mask)
        else:
            P.poly(stroke(np.stack([x, top], 1), 0.016), I["lip_col"] * 0.5)
        highlight = I["lip_col"] * 0.5 + np.minimum(I["lip_col"] * 1.25, 1) * 0.5
        c = len(_LIP_U) // 2
        P.poly(ell_pts(0, bot[c] + 0.5 * lo_th, hw * 0.35, lt * 0.25, n=10), highlight)   # on the lower lip

    def frame(self, expr_gain: float, mouth, blink: float, pose, patches: bool = True) -> np.ndarray:
        """One video frame, uint8 (size, size, 3). expr_gain is quantised to GAIN_STEP, blink to 1/20.
        patches=False draws the moving parts on the whole 4x static image instead of on the two cached
        patches: several times slower, pixel-identical; the reference the patch path is tested against."""
        gain_q, blink_q = quantise_gain(expr_gain), round(float(blink) * 20)
        E = expr_dict(EXPR[self.emotion] * gain_q)
        if not patches:
            full = self.under.copy()
            self._draw_eyes(full, (0, 0), E, blink_q / 20)
            self._draw_mouth(full, (0, 0), E, mouth)
            full.paste(*self.over)
            canvas = full.reduce(2)
        else:
            canvas = self.mid.copy()
        for kind, box, under, over in self.patches if patches else ():
            key = (gain_q, blink_q)
            if kind == "eyes" and key in self._eye_cache:   # eyes/brows repeat a lot within a clip
                small = self._eye_cache[key]
            else:
                patch = under.copy()
                if kind == "eyes":
                    self._draw_eyes(patch, box[:2], E, blink_q / 20)
                else:
                    self._draw_mouth(patch, box[:2], E, mouth)
                if over is not None:
                    patch.paste(over[0], (0, 0), over[1])
                small = patch.reduce(2)
                if kind == "eyes":
                    self._eye_cache[key] = small
            canvas.paste(small, (box[0] // 2, box[1] // 2))
        # inverse pose, 2x output coords -> 2x canvas coords; nearest at 2x then a 2x2 box filter is
        # ~5x cheaper than PIL's bilinear and antialiases the same (motion quantised to 1/2 pixel)
        A = self.pose_matrix(pose)
        Ainv = np.linalg.inv(np.vstack([A, [0, 0, 1]]))[:2]
        Ainv[:, 2] = 2 * Ainv[:, 2] + 2 * self.pad
        out = canvas.transform((2 * self.size, 2 * self.size), Image.AFFINE, data=tuple(Ainv.ravel()),
                               resample=Image.NEAREST, fillcolor=self.bg).reduce(2)
        return np.asarray(out)


def render_still(identity: dict, emotion: str, intensity: float = 1.0, mouth=None, blink: float = 0.0,
                 pose=(0, 0, 0, 1), size: int = 64, rng=None) -> np.ndarray:
    """One frame, uint8 (size, size, 3): `identity` from sample_identity, `emotion` in EXPR,
    `mouth` a (open, width, round, teeth, tongue) viseme vector (None: closed, at rest).
    `rng` (optional np.random.Generator) jitters the intensity by +-10 % for variety."""
    if rng is not None:
        intensity = intensity * float(rng.uniform(0.9, 1.1))
    r = FaceRenderer(identity, emotion, intensity, size)
    return r.frame(intensity, VISEMES["REST"] if mouth is None else mouth, blink, pose)
